#include "storage/batch_progress.h"

namespace batchd::storage {

std::optional<EventRecord> NextBatchProgress(BatchProgressState& p, std::string public_id,
                                             std::string_view state, uint64_t sessions,
                                             const SessionCounts& counts, int64_t suppressed,
                                             int64_t now_ms) {
  if (counts.uninitialized == static_cast<int64_t>(sessions)) return std::nullopt;
  if (p.counts == counts && p.chunks_reported == p.chunks_done &&
      p.suppressed_reported == suppressed) {
    return std::nullopt;
  }
  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kBatchProgress;
  e.batch_public_id = std::move(public_id);
  e.to = std::string(state);
  e.sessions = sessions;
  e.counts = counts;
  e.sessions_per_s =
      p.sessions_rate.Observe(counts.completed + counts.error + counts.canceled, now_ms);
  const int64_t left = counts.uninitialized + counts.in_progress;
  if (e.sessions_per_s && *e.sessions_per_s > 0 && state != "paused") {
    e.eta_s = static_cast<double>(left) / *e.sessions_per_s;
  }
  if (p.chunks_done > 0) {
    e.chunks_per_s = p.chunks_rate.Observe(p.chunks_done, now_ms);
    e.bytes_per_s = p.bytes_rate.Observe(p.bytes_done, now_ms);
  }
  e.suppressed_session_events = suppressed;
  p.counts = counts;
  p.chunks_reported = p.chunks_done;
  p.suppressed_reported = suppressed;
  return e;
}

}  // namespace batchd::storage
