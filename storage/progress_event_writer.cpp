#include "storage/progress_event_writer.h"

#include "storage/batch_progress.h"

#include <set>
#include <string>

#include <SQLiteCpp/Statement.h>

namespace batchd::storage {
namespace {

bool IsFinished(const std::string& batch_state) {
  return batch_state == "completed" || batch_state == "failed" || batch_state == "canceled";
}

std::optional<int64_t> BatchIdOf(SQLite::Database& db, const std::string& public_id) {
  SQLite::Statement s(db, "SELECT id FROM batch WHERE public_id = ?");
  s.bind(1, public_id);
  if (!s.executeStep()) return std::nullopt;
  return s.getColumn(0).getInt64();
}

// How much a session's counter grew since its last report, remembering this one.
int64_t Grown(std::unordered_map<int64_t, int64_t>& last, int64_t session_id, int64_t now_value) {
  int64_t& prev = last[session_id];
  const int64_t d = now_value >= prev ? now_value - prev : now_value;  // restarted: all new
  prev = now_value;
  return d;
}

}  // namespace

void ProgressEventWriter::ForgetSession(int64_t session_id) {
  if (session_chunks_.empty()) return;  // the common case: no op reports chunks
  session_chunks_.erase(session_id);
  session_bytes_.erase(session_id);
}

std::vector<int64_t> ProgressEventWriter::Write(SQLite::Database& db, EventAppender& appender,
                                                const LiveProgressCoalescer::Round& round,
                                                int64_t now_ms) {
  std::set<int64_t> batches(round.batches.begin(), round.batches.end());
  for (const SessionLiveProgress& r : round.reports) {
    if (std::optional<int64_t> id = WriteSessionProgress(db, appender, r, now_ms)) {
      batches.insert(*id);
    }
  }
  std::vector<int64_t> deleted;
  for (int64_t batch_id : batches) {
    if (!WriteBatchProgress(db, appender, batch_id, now_ms)) deleted.push_back(batch_id);
  }
  return deleted;
}

std::optional<int64_t> ProgressEventWriter::WriteSessionProgress(SQLite::Database& db,
                                                                 EventAppender& appender,
                                                                 const SessionLiveProgress& r,
                                                                 int64_t now_ms) {
  std::optional<int64_t> batch_id = BatchIdOf(db, r.batch_public_id);
  if (!batch_id) return std::nullopt;  // deleted meanwhile
  // Per-batch totals grow by what each session did since its last report.
  BatchProgressState& p = batches_[*batch_id];
  p.chunks_done += Grown(session_chunks_, r.session_id, r.chunks_done);
  p.bytes_done += Grown(session_bytes_, r.session_id, r.bytes_done);

  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kSessionProgress;
  e.batch_public_id = r.batch_public_id;
  e.session_id = r.session_id;
  e.chunks_done = r.chunks_done;
  e.chunks_total = r.chunks_total;
  e.bytes_done = r.bytes_done;
  e.done_ranges = r.done_ranges;
  appender.Append(e);
  return batch_id;
}

bool ProgressEventWriter::WriteBatchProgress(SQLite::Database& db, EventAppender& appender,
                                             int64_t batch_id, int64_t now_ms) {
  SQLite::Statement s(db,
                      "SELECT public_id, state, session_count, n_uninitialized, n_in_progress, "
                      "n_completed, n_error, n_canceled FROM batch WHERE id = ?");
  s.bind(1, batch_id);
  if (!s.executeStep()) {  // deleted
    batches_.erase(batch_id);
    suppressed_.erase(batch_id);
    return false;
  }
  const std::string state = s.getColumn(1).getString();
  if (state == "enqueuing") return true;  // not announced yet
  if (IsFinished(state)) {
    // batch.finished (from the trigger) carries the final counters; a retry starts afresh.
    batches_.erase(batch_id);
    return true;
  }
  const SessionCounts counts{s.getColumn(3).getInt64(), s.getColumn(4).getInt64(),
                             s.getColumn(5).getInt64(), s.getColumn(6).getInt64(),
                             s.getColumn(7).getInt64()};
  const uint64_t sessions = static_cast<uint64_t>(s.getColumn(2).getInt64());
  auto found = suppressed_.find(batch_id);
  const int64_t suppressed = found != suppressed_.end() ? found->second : 0;
  std::optional<EventRecord> e = NextBatchProgress(batches_[batch_id], s.getColumn(0).getString(),
                                                   state, sessions, counts, suppressed, now_ms);
  if (e) appender.Append(*e);
  return true;
}

}  // namespace batchd::storage
