#include "storage/pg/pg_nodes.h"

#include "storage/pg/pg_batch_writes.h"

#include <atomic>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "core/log_throttle.h"
#include "core/mutex.h"
#include "storage/pg/pg_rescue.h"

namespace batchd::storage::pg {
namespace {

class PgNodeKeeperImpl final : public PgNodeKeeper {
 public:
  PgNodeKeeperImpl(PgNodeOptions options, std::unique_ptr<PgConnection> conn)
      : options_(std::move(options)), events_(options_.session_events), conn_(std::move(conn)) {}
  ~PgNodeKeeperImpl() override { Stop(); }

  Status Register() {
    ASSIGN_OR_RETURN(int64_t id, InsertRow());
    id_.store(id);
    // An alive row of the same name is this node before a restart (kill -9): its sessions are
    // ours to rescue now, not after node_timeout.
    ASSIGN_OR_RETURN(PgResult earlier,
                     conn_->Exec("SELECT id FROM node WHERE name = $1 AND state = 'alive' AND "
                                 "id <> $2 ORDER BY id",
                                 {PgParam::Text(options_.identity.name), PgParam::Int(id)}));
    for (int i = 0; i < earlier.rows(); ++i) {
      RETURN_IF_ERROR(RescueOne(earlier.Int(i, 0)));
    }
    return RemoveBatchesOfGoneNodes();
  }

  // A batch still enqueuing whose inserting node is no longer alive (stopped or dead before the
  // insert ended, or after its rescue ran) can never be finished: its rows go, as the SQLite
  // store removes a half-inserted batch at open.
  Status RemoveBatchesOfGoneNodes() {
    ASSIGN_OR_RETURN(PgResult gone,
                     conn_->Exec("SELECT DISTINCT b.inserted_by FROM batch b JOIN node n ON "
                                 "n.id = b.inserted_by WHERE b.state = 'enqueuing' AND "
                                 "n.state <> 'alive'"));
    for (int i = 0; i < gone.rows(); ++i) {
      PgTransaction txn(*conn_);
      RETURN_IF_ERROR(txn.begun());
      ASSIGN_OR_RETURN(int64_t removed, RemoveBatchesInsertedBy(*conn_, gone.Int(i, 0)));
      RETURN_IF_ERROR(txn.Commit());
      if (removed > 0) {
        spdlog::warn("removed {} batch(es) whose insert node {} left unfinished", removed,
                     gone.Int(i, 0));
      }
    }
    return Status::Ok();
  }

  void StartThread() {
    thread_ = std::thread([this] { Loop(); });
  }

  int64_t node_id() const override { return id_.load(); }
  PgNodeSessions& sessions() override { return sessions_; }

  void Stop() override {
    {
      MutexLock lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    wake_.SignalAll();
    if (thread_.joinable()) thread_.join();
    if (conn_->IsBroken() && !conn_->Reconnect().ok()) {
      spdlog::warn(
          "node {}: not marked stopped (the database is unreachable); the others will "
          "rescue its sessions after the node timeout",
          node_id());
      return;
    }
    Result<PgRescue> r =
        RescueNode(*conn_, node_id(), std::nullopt, "stopped", options_.clock(), events_);
    if (!r.ok()) {
      spdlog::warn("node {}: not marked stopped: {}", node_id(), r.status().ToString());
    } else if (!r->sessions.empty()) {
      spdlog::info("node {}: {} session(s) still in progress at the stop requeued", node_id(),
                   r->sessions.size());
    }
  }

 private:
  Result<int64_t> InsertRow() {
    const int64_t now = options_.clock();
    const NodeIdentity& n = options_.identity;
    ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Exec("INSERT INTO node (name, host, listen, started_at, slots, "
                    "heartbeat_at) VALUES ($1, $2, $3, $4, $5, $4) RETURNING id",
                    {PgParam::Text(n.name), PgParam::Text(n.host), PgParam::Text(n.listen),
                     PgParam::Int(now), PgParam::Int(n.slots)}));
    return r.Int(0, 0);
  }

  Status RescueOne(int64_t victim) {
    ASSIGN_OR_RETURN(PgRescue r,
                     RescueNode(*conn_, victim, node_id(), "dead", options_.clock(), events_));
    if (r.marked) {
      spdlog::warn("node {} rescued node {}: {} session(s) requeued", node_id(), victim,
                   r.sessions.size());
    }
    return Status::Ok();
  }

  void Loop() {
    MutexLock lock(mu_);
    while (!stopped_) {
      const auto deadline = std::chrono::steady_clock::now() + options_.heartbeat_interval;
      while (!stopped_ && wake_.WaitUntil(mu_, deadline) != std::cv_status::timeout) {
      }
      if (stopped_) return;
      lock.Unlock();
      if (Status s = Beat(); !s.ok()) {
        if (std::optional<int64_t> suppressed = beat_log_.Admit()) {
          spdlog::warn("node {}: heartbeat failed: {}{}", node_id(), s.ToString(),
                       SuppressedSuffix(*suppressed));
        }
      }
      lock.Lock();
    }
  }

  Status Beat() {
    if (conn_->IsBroken()) RETURN_IF_ERROR(conn_->Reconnect());
    const int64_t now = options_.clock();
    ASSIGN_OR_RETURN(PgResult beat,
                     conn_->Exec("UPDATE node SET heartbeat_at = $2 WHERE id = $1 AND "
                                 "state = 'alive' RETURNING id",
                                 {PgParam::Int(node_id()), PgParam::Int(now)}));
    if (beat.rows() == 0) RETURN_IF_ERROR(Lost());
    RETURN_IF_ERROR(StopRequested());
    ASSIGN_OR_RETURN(PgResult dead, conn_->Exec("SELECT id FROM node WHERE state = 'alive' AND "
                                                "heartbeat_at < $1 AND id <> $2 ORDER BY id",
                                                {PgParam::Int(now - options_.node_timeout.count()),
                                                 PgParam::Int(node_id())}));
    for (int i = 0; i < dead.rows(); ++i) RETURN_IF_ERROR(RescueOne(dead.Int(i, 0)));
    return Status::Ok();
  }

  // The sessions of this node a cancel asked to stop (session.stop_requested). The cancel's
  // NOTIFY batchd_stop is the fast path, but LISTEN keeps no backlog: one sent while the stop
  // listener was reconnecting is lost, and this finds it within a heartbeat. Each is stopped
  // once (the stop takes a moment: its outcome is not written before the next heartbeat).
  Status StopRequested() {
    ASSIGN_OR_RETURN(PgResult r, conn_->Exec("SELECT id FROM session WHERE node_id = $1 AND "
                                             "state = 1 AND stop_requested <> 0",
                                             {PgParam::Int(node_id())}));
    std::unordered_set<int64_t> requested;
    for (int i = 0; i < r.rows(); ++i) {
      const int64_t id = r.Int(i, 0);
      requested.insert(id);
      if (!stops_sent_.contains(id) && options_.on_remote_stop) {
        options_.on_remote_stop(RemoteStop{.session_id = id});
      }
    }
    stops_sent_ = std::move(requested);
    return Status::Ok();
  }

  // Our row is not alive: another node declared us dead (a partition outlasted node_timeout)
  // and requeued our sessions. Start over under a new row; stop what we still run.
  Status Lost() {
    const int64_t old_id = node_id();
    ASSIGN_OR_RETURN(int64_t new_id, InsertRow());
    id_.store(new_id);
    std::vector<int64_t> lost = sessions_.TakeClaimedUnder(old_id);
    spdlog::warn(
        "node {} was declared dead by another node; registered again as node {}, "
        "stopping the {} session(s) it lost",
        old_id, new_id, lost.size());
    if (options_.on_remote_stop) {
      for (int64_t id : lost) options_.on_remote_stop(RemoteStop{.session_id = id});
    }
    return Status::Ok();
  }

  const PgNodeOptions options_;
  PgSessionEvents events_;
  std::unique_ptr<PgConnection> conn_;  // the heartbeat thread's (Start/Stop use it around it)
  std::atomic<int64_t> id_{0};
  PgNodeSessions sessions_;
  Mutex mu_;
  CondVar wake_;
  bool stopped_ GUARDED_BY(mu_) = false;
  LogThrottle beat_log_;
  std::unordered_set<int64_t> stops_sent_;  // the heartbeat thread's: StopRequested's last
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<PgNodeKeeper>> PgNodeKeeper::Start(PgNodeOptions options) {
  ASSIGN_OR_RETURN(auto conn, PgConnection::Open(options.uri));
  auto keeper = std::make_unique<PgNodeKeeperImpl>(std::move(options), std::move(conn));
  RETURN_IF_ERROR(keeper->Register());
  keeper->StartThread();
  return std::unique_ptr<PgNodeKeeper>(std::move(keeper));
}

Result<std::vector<NodeRecord>> QueryNodes(PgConnection& conn) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT n.id, n.name, n.host, n.listen, n.slots, n.started_at, n.heartbeat_at, "
                "n.state, n.ended_at, n.rescued_by, n.rescued, "
                "(SELECT count(*) FROM session s WHERE s.node_id = n.id AND s.state = 1) "
                "FROM node n ORDER BY n.id DESC"));
  std::vector<NodeRecord> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    NodeRecord& n = out.emplace_back();
    n.id = r.Int(i, 0);
    n.identity.name = std::string(r.Text(i, 1));
    n.identity.host = std::string(r.Text(i, 2));
    n.identity.listen = std::string(r.Text(i, 3));
    n.identity.slots = static_cast<int>(r.Int(i, 4));
    n.started_at_ms = r.Int(i, 5);
    n.heartbeat_at_ms = r.Int(i, 6);
    n.state = std::string(r.Text(i, 7));
    n.ended_at_ms = r.OptionalInt(i, 8);
    n.rescued_by = r.OptionalInt(i, 9);
    n.rescued = r.Int(i, 10);
    n.running = r.Int(i, 11);
  }
  return out;
}

}  // namespace batchd::storage::pg
