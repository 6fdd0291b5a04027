// Helpers for black-box tests of the event stream (docs/api.md, "Events"): reading events off a
// WebSocket until a condition holds, and reading the daemon's memory from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {

// Reads text messages (events and control messages, in order) until `done(message)` holds for
// one of them, which is included. Fails on a close, a non-JSON message, or after
// `max_messages` (so a stream that never delivers fails instead of reading forever; the
// client's own timeout bounds every read).
Result<std::vector<nlohmann::json>> ReadUntil(
    WebSocketClient& client, const std::function<bool(const nlohmann::json&)>& done,
    size_t max_messages = 1'000'000);

// Reads the first message and checks it is the hello; returns it.
Result<nlohmann::json> ReadHello(WebSocketClient& client);

// Only the events (messages with a "seq") of `messages`.
std::vector<nlohmann::json> EventsOnly(const std::vector<nlohmann::json>& messages);

// A predicate for ReadUntil: an event of `type` about batch `batch_id`.
std::function<bool(const nlohmann::json&)> IsEvent(const std::string& type,
                                                   const std::string& batch_id);

// A process's resident set (VmRSS) and its peak (VmHWM), in KiB, from /proc/PID/status.
struct MemoryUse {
  int64_t rss_kib = 0;
  int64_t peak_kib = 0;
};
Result<MemoryUse> ReadMemoryUse(pid_t pid);

}  // namespace batchd::testing
