// session.state events of the PostgreSQL store's claims, outcomes and rescues: which
// transitions become events (SessionEventPolicy, shared by this node's threads, so one token
// bucket per node as per writer in the embedded store) and the records to append in the
// transaction of the change (AppendEvents, pg_events.h). What the policy refuses is counted per
// batch, for batch.progress (PgEventHub::SessionEventsSuppressed after the commit).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "storage/event_record.h"
#include "storage/records.h"
#include "storage/session_event_policy.h"

namespace batchd::storage::pg {

class PgSessionEvents {
 public:
  explicit PgSessionEvents(SessionEventOptions options) : options_(options), policy_(options) {}

  // A cheap first look, per batch: below this many sessions every transition is interesting.
  bool EveryTransition(uint64_t batch_sessions) const {
    return batch_sessions <= options_.every_transition_max_sessions;
  }

  SessionEventPolicy::Verdict Judge(uint64_t batch_sessions, bool carries_error, int64_t now_ms) {
    MutexLock lock(mu_);
    return policy_.Judge(batch_sessions, carries_error, false, now_ms);
  }

 private:
  const SessionEventOptions options_;
  Mutex mu_;
  SessionEventPolicy policy_ GUARDED_BY(mu_);
};

// The events and suppressed counts one transaction collects.
struct PgSessionEventBatch {
  std::vector<EventRecord> events;
  std::vector<std::pair<int64_t, int64_t>> suppressed;  // (batch id, count)

  void CountSuppressed(int64_t batch_id);
  // Judges a transition of `session_id` and appends its event if the policy wants it.
  // `outcome` (may be null) gives the error and the retry time.
  void Add(PgSessionEvents& policy, int64_t batch_id, const std::string& batch_public_id,
           uint64_t batch_sessions, int64_t session_id, SessionState from, SessionState to,
           int64_t attempt, const SessionOutcome* outcome, int64_t now_ms);
};

}  // namespace batchd::storage::pg
