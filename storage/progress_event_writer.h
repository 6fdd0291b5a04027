// Turns a round of coalesced progress (storage/live_progress_coalescer.h) into events: one
// session.progress per report, and one batch.progress per batch that has something new to say,
// with its rates (sessions, chunks and bytes per second, over a sliding window) and ETA.
// docs/api.md ("Types") says what the fields mean; docs/schema.md the columns.
//
// It remembers, per batch, what batch.progress last said (so an unchanged batch writes nothing)
// and the rate windows, and per session the chunks and bytes it last reported (a batch's totals
// grow by each report's difference). Writer thread only, inside a write transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "storage/batch_progress.h"
#include "storage/event_table.h"
#include "storage/live_progress_coalescer.h"
#include "storage/rate_window.h"

namespace batchd::storage {

class ProgressEventWriter {
 public:
  // A session.state event of `batch_id` was not written (over the policy's rate); its next
  // batch.progress reports the count.
  void CountSuppressed(int64_t batch_id) { ++suppressed_[batch_id]; }

  // The session finished: forget what it last reported (a later attempt reports from zero).
  void ForgetSession(int64_t session_id);

  // Appends the round's events through `appender` (bound to `db`), timed `now_ms` (unix ms, the
  // rates' clock too). Returns the batches it found deleted (and forgot). Throws
  // SQLite::Exception like any statement in a write job.
  std::vector<int64_t> Write(SQLite::Database& db, EventAppender& appender,
                             const LiveProgressCoalescer::Round& round, int64_t now_ms);

  // Sessions whose last report is remembered (for tests: finished sessions are forgotten).
  size_t RememberedSessions() const { return session_chunks_.size(); }

 private:
  // What batch.progress last said about a batch, and the windows its rates come from.

  // Writes the report's session.progress and returns its batch's id (nullopt: deleted).
  std::optional<int64_t> WriteSessionProgress(SQLite::Database& db, EventAppender& appender,
                                              const SessionLiveProgress& report, int64_t now_ms);
  // False when the batch no longer exists.
  bool WriteBatchProgress(SQLite::Database& db, EventAppender& appender, int64_t batch_id,
                          int64_t now_ms);

  std::unordered_map<int64_t, BatchProgressState> batches_;
  std::unordered_map<int64_t, int64_t> suppressed_;      // batch id -> session events not written
  std::unordered_map<int64_t, int64_t> session_chunks_;  // session id -> chunks last reported
  std::unordered_map<int64_t, int64_t> session_bytes_;
};

}  // namespace batchd::storage
