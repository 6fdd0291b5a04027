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
//
// Threads: a claim thread and a flush thread, each with its own connection; every method
// returns at once and calls `done` on one of them. A flush that cannot commit (the server gone,
// a deadlock) keeps its entries, in order, and is tried again (100 ms doubling to 5 s, the
// connection re-opened if lost) until it commits; `done` waits, and claims fail with
// kUnavailable meanwhile (OutcomesUnstored > 0). Only Stop gives up on them: one last try,
// then `done` gets the error (the sessions stay in progress on this node, whose stop or
// rescue requeues them). pg_claim.h and pg_outcome_round.h have the SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/latency_histogram.h"
#include "core/status.h"
#include "storage/pg/pg_events.h"
#include "storage/pg/pg_node_sessions.h"
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
  // Told which sessions were claimed under which node id and which outcomes are stored, so the
  // node keeper can stop a lost node's sessions (pg_node_sessions.h). May be null; outlives this.
  PgNodeSessions* sessions = nullptr;
  WallClock clock = UnixMillis;
};

class PgScheduling {
 public:
  // Opens the two connections and starts the threads; kUnavailable if the server cannot be
  // reached.
  static Result<std::unique_ptr<PgScheduling>> Start(PgSchedulingOptions options);
  virtual ~PgScheduling() = default;

  virtual void ClaimSessions(int max_sessions, int64_t now_ms, Callback<ClaimResult> done) = 0;
  virtual void SaveExecutionState(int64_t session_id, std::string state_json,
                                  int64_t started_at_ms) = 0;
  virtual void SaveCheckpoint(CheckpointUpdate checkpoint) = 0;
  virtual void FinishSession(SessionOutcome outcome, Callback<bool> done) = 0;
  virtual size_t OutcomesUnstored() const = 0;
  // Claim and outcome transactions of this node: committed, failed, and how long each took
  // (for /metrics, as the SQLite writer's commits are).
  struct TransactionStats {
    int64_t commits = 0;
    int64_t failures = 0;
    LatencyHistogram::Snapshot latency;
  };
  virtual TransactionStats Transactions() const = 0;
  // Flushes what is buffered, then stops. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace batchd::storage::pg
