// This node's row in `node`, its heartbeat, and the rescue of dead nodes' sessions.
//
// Register: a new row (state alive). An earlier alive row of the same name is this node's own
// predecessor (a restart after kill -9): it is rescued at once instead of after node_timeout.
// Heartbeat: every heartbeat_interval, heartbeat_at = now on its own connection. If the row was
// marked dead meanwhile (a partition outlasted node_timeout and a survivor rescued us), the
// keeper stops every session this node still runs (on_remote_stop, for each session it had) and
// registers a new row; node_id() answers the new id from then on, and the outcomes of the lost
// sessions find them gone.
// Rescue: each heartbeat also looks for alive nodes whose heartbeat_at is older than
// node_timeout; under the advisory lock kRescueLockKey, in one transaction, it marks each dead
// (only if still alive: exactly once), requeues its in_progress sessions (attempts, execution
// state and checkpoint kept, node_id cleared, counters moved), removes its half-inserted
// batches. It sends no stop for them (a "session:<id>" stop reaching the node that claimed one
// after the rescue would cancel it there).
// Stop requests: each heartbeat also stops (on_remote_stop) the sessions of this node whose
// row a cancel flagged (session.stop_requested), once each: the cancel's NOTIFY batchd_stop is
// lost if it comes while the stop listener reconnects (LISTEN keeps no backlog).
// Stop: marks the row stopped and requeues whatever it still has in progress (outcomes a stop
// gave up on), in the rescue's one transaction (pg_rescue.h), so nothing stays in progress on
// a node nobody will rescue.
//
// Which sessions a lost node stops: the database no longer knows (the rescue cleared their
// node_id; another node may run them already), so the keeper keeps the registry of sessions
// claimed and not yet finished, with the node id they were claimed under (pg_node_sessions.h,
// fed by PgScheduling through PgSchedulingOptions::sessions = &keeper->sessions()). On finding
// its row dead it switches node_id() to the new row first (claims under the old id are refused
// by then: a claim reads its node row FOR SHARE, pg_claim.h), then calls on_remote_stop for
// every session claimed under the old id, at its first heartbeat after the rescue.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_node_sessions.h"
#include "storage/pg/pg_store.h"
#include "storage/records.h"
#include "storage/session_event_policy.h"

namespace batchd::storage::pg {

struct PgNodeOptions {
  std::string uri;
  NodeIdentity identity;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds node_timeout{10'000};
  std::function<void(const RemoteStop&)> on_remote_stop;
  // Which of the rescued sessions' transitions become session.state events.
  SessionEventOptions session_events;
  WallClock clock = UnixMillis;
};

class PgNodeKeeper {
 public:
  // Registers the row (rescuing a predecessor of the same name at once) and starts the
  // heartbeat thread. kUnavailable if the server cannot be reached.
  static Result<std::unique_ptr<PgNodeKeeper>> Start(PgNodeOptions options);
  virtual ~PgNodeKeeper() = default;
  virtual int64_t node_id() const = 0;  // any thread
  // The sessions claimed on this process (see above); outlives the scheduling that feeds it.
  virtual PgNodeSessions& sessions() = 0;
  // Marks the row stopped and ends the heartbeat. Idempotent.
  virtual void Stop() = 0;
};

// Every node row, newest first, with its running session count.
Result<std::vector<NodeRecord>> QueryNodes(PgConnection& conn);

}  // namespace batchd::storage::pg
