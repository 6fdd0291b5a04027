// What the API needs to serve a session's log (GET /api/v1/sessions/{id}/log, docs/api.md):
// implemented by daemon/session_log_files.h over the command op's log files, so api/ knows
// neither SQL nor where the files are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"

namespace batchd::api {

enum class LogStream { kStdout, kStderr };

struct LogQuery {
  int64_t session_id = 0;
  LogStream stream = LogStream::kStdout;
  uint64_t offset = 0;   // a byte offset in the log file
  size_t max_bytes = 1;  // at most this many bytes in the answer (> 0)
  bool follow = false;   // wait (bounded) for bytes past `offset` if there are none yet
  // The longest the client wants a follow to wait (the daemon's own bound applies too); 0:
  // the daemon's bound alone.
  uint64_t wait_ms = 0;
};

struct LogChunk {
  // False: the session keeps no log (it runs another op than command); the rest is unset.
  bool has_log = true;
  std::string no_log_reason;
  std::string bytes;       // the log's bytes from `offset`
  uint64_t offset = 0;     // where `bytes` start: the asked offset, or 0 after a restart
  uint64_t size = 0;       // the log file's size when it was read
  bool finished = false;   // the session had ended before the file was read: no more bytes
  bool restarted = false;  // the asked offset was past the end: a new attempt began the log
                           // again, and `bytes` start at 0
  uint64_t next_offset() const { return offset + bytes.size(); }
};

class SessionLogSource {
 public:
  virtual ~SessionLogSource() = default;
  // Answers `done` exactly once, from another thread. kNotFound if there is no such session;
  // kMalformed at "?offset" if the session has ended and `offset` is past its log's end.
  virtual void Read(const LogQuery& query, std::function<void(Result<LogChunk>)> done) = 0;
  // Follows waiting for new bytes now (for /healthz).
  virtual size_t WaitingFollows() const = 0;
  // The batch was deleted: remove its sessions' logs (in the background).
  virtual void DeleteBatchLogs(const std::string& batch_public_id) = 0;
};

}  // namespace batchd::api
