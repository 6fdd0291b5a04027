// The first failed sessions of a batch, read over REST: what `show` lists under "errors:" and
// what `watch` says about errors that happened before it subscribed (a batch can fail before
// its watcher's stream is open, and the stream only carries what comes after).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/command_context.h"
#include "core/status.h"

namespace batchd::cli {

struct SessionError {
  int64_t session = 0;
  int64_t attempts = 0;
  std::string kind;     // "permanent", "transient", ...; empty when the session has no details
  std::string message;  // "(no details)" when the session could not be read
};

// Up to `limit` sessions of batch `id` in state error, in id order. Fails only when the list
// itself cannot be read; a session whose details cannot be read is listed without them.
Result<std::vector<SessionError>> FirstSessionErrors(CommandContext& ctx, const std::string& id,
                                                     int limit);

// "session 7 failed (permanent) after attempt 1: disk on fire": the line `watch` prints for a
// failed session, whether it learned of it from an event or from FirstSessionErrors.
// ", will retry" follows the kind when the session went back to the queue.
std::string DescribeFailure(int64_t session, const std::string& kind, bool will_retry,
                            std::optional<int64_t> attempt, const std::string& message);

}  // namespace batchd::cli
