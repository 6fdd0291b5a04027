// Turns a round of coalesced progress (storage/live_progress_coalescer.h) into session.progress
// and batch.progress events in PostgreSQL, as storage/progress_event_writer.h does for SQLite:
// one session.progress per report, one batch.progress per batch with something new to say (its
// counters, the sessions/chunks/bytes rates over a sliding window, the ETA, the session.state
// events the policy suppressed).
//
// It remembers, per batch, what batch.progress last said and the rate windows, and per session
// the chunks and bytes it last reported (a batch's totals grow by each report's difference);
// sessions of a batch found finished or deleted are forgotten. State is this node's: each node
// reports the progress of the sessions it runs and of the batches whose counters it moved.
// One thread (the event hub's progress thread).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/batch_progress.h"
#include "storage/live_progress_coalescer.h"
#include "storage/pg/pg_connection.h"
#include "storage/rate_window.h"

namespace batchd::storage::pg {

class PgProgressEventWriter {
 public:
  // `count` session.state events of `batch_id` were not written; its next batch.progress says.
  void AddSuppressed(int64_t batch_id, int64_t count) { suppressed_[batch_id] += count; }

  // Appends the round's events in one transaction on `conn` (not in one already), timed
  // `now_ms` (unix ms, the rates' clock too). Answers the events written. On failure nothing
  // is written (the round is lost: sessions report again, counters move again).
  Result<int64_t> Write(PgConnection& conn, const LiveProgressCoalescer::Round& round,
                        int64_t now_ms);

  size_t RememberedSessions() const { return sessions_.size(); }

 private:
  struct SessionSeen {
    int64_t batch_id = 0;
    int64_t chunks = 0;
    int64_t bytes = 0;
  };

  // The report's session.progress (nullopt: its batch is gone); grows its batch's totals.
  Result<std::optional<int64_t>> SessionProgress(PgConnection& conn,
                                                 const SessionLiveProgress& report, int64_t now_ms,
                                                 std::vector<EventRecord>& out);
  // The batch.progress of each batch with something new to say, read under a share lock on
  // the batch rows, so that none is numbered after its batch's batch.finished.
  Status BatchProgress(PgConnection& conn, const std::set<int64_t>& batch_ids, int64_t now_ms,
                       std::vector<EventRecord>& out);
  void ForgetBatch(int64_t batch_id, bool deleted);

  std::unordered_map<int64_t, BatchProgressState> batches_;
  std::unordered_map<int64_t, int64_t> suppressed_;  // batch id -> session events not written
  std::unordered_map<int64_t, SessionSeen> sessions_;
};

}  // namespace batchd::storage::pg
