// The scheduler's side of the PostgreSQL store for one node: claims, execution states,
// checkpoints and outcomes (Store's "Scheduling" methods), on connections of their own.
//
// Claims: one transaction per claim. Batches are picked queued/running, not paused, highest
// priority then oldest, with FOR UPDATE SKIP LOCKED: a batch another node is claiming from is
// skipped, never waited for, and n_in_progress (updated under that row lock) makes max_running
// exact over all nodes. Claimed sessions get node_id = this node; attempts += 1.
// Outcomes (and states/checkpoints) are buffered and group-committed in call order; an outcome
// applies only WHERE state = in_progress AND node_id = this node, so a node that lost a session
// to a rescue never finishes it (done(false)). Counters, the folded result and session.state
// events (SessionEventPolicy) change in the same transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "storage/pg/pg_events.h"
#include "storage/records.h"
#include "storage/session_event_policy.h"
#include "storage/store.h"

namespace batchd::storage::pg {

struct PgSchedulingOptions {
  std::string uri;
  // This node's id now (PgNodeKeeper: it changes if the node was declared dead and registered
  // again). Read at each claim and outcome flush.
  std::function<int64_t()> node_id;
  ResultMerger merge_results;
  SessionEventOptions session_events;
  PgEventHub* events = nullptr;  // told which batches' counters moved; outlives this
  WallClock clock = UnixMillis;
};

class PgScheduling {
 public:
  static Result<std::unique_ptr<PgScheduling>> Start(PgSchedulingOptions options);
  virtual ~PgScheduling() = default;

  virtual void ClaimSessions(int max_sessions, int64_t now_ms, Callback<ClaimResult> done) = 0;
  virtual void SaveExecutionState(int64_t session_id, std::string state_json,
                                  int64_t started_at_ms) = 0;
  virtual void SaveCheckpoint(CheckpointUpdate checkpoint) = 0;
  virtual void FinishSession(SessionOutcome outcome, Callback<bool> done) = 0;
  virtual size_t OutcomesUnstored() const = 0;
  // Flushes what is buffered, then stops. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace batchd::storage::pg
