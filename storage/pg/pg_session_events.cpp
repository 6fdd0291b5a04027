#include "storage/pg/pg_session_events.h"

namespace batchd::storage::pg {

void PgSessionEventBatch::CountSuppressed(int64_t batch_id) {
  for (auto& [id, n] : suppressed) {
    if (id == batch_id) {
      ++n;
      return;
    }
  }
  suppressed.emplace_back(batch_id, 1);
}

void PgSessionEventBatch::Add(PgSessionEvents& policy, int64_t batch_id,
                              const std::string& batch_public_id, uint64_t batch_sessions,
                              int64_t session_id, SessionState from, SessionState to,
                              int64_t attempt, const SessionOutcome* outcome, int64_t now_ms) {
  // As the embedded event log (storage/event_log.cpp): a cancel is no error worth an event.
  const bool carries_error =
      outcome != nullptr && !outcome->error_kind.empty() && outcome->error_kind != "canceled";
  switch (policy.Judge(batch_sessions, carries_error, now_ms)) {
    case SessionEventPolicy::Verdict::kIgnore:
      return;
    case SessionEventPolicy::Verdict::kSuppress:
      CountSuppressed(batch_id);
      return;
    case SessionEventPolicy::Verdict::kEmit:
      break;
  }
  events.push_back(
      SessionStateEvent(batch_public_id, session_id, from, to, attempt, outcome, now_ms));
}

}  // namespace batchd::storage::pg
