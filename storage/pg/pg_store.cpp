// The PostgreSQL Store: a pool of connections for queries and requests, and per-node parts of
// their own (storage/pg/pg_store.h): the node keeper, the scheduling writes, the event hub.
#include "storage/pg/pg_store.h"

#include <spdlog/spdlog.h>

#include "storage/pg/pg_batch_queries.h"
#include "storage/pg/pg_batch_writes.h"
#include "storage/pg/pg_events.h"
#include "storage/pg/pg_job_pool.h"
#include "storage/pg/pg_lifecycle.h"
#include "storage/pg/pg_migrations.h"
#include "storage/pg/pg_nodes.h"
#include "storage/pg/pg_scheduling.h"

namespace batchd::storage {
namespace {

using pg::PgConnection;

class PgStore final : public Store {
 public:
  PgStore(const PgStoreOptions& options, std::unique_ptr<pg::PgEventHub> events,
          std::unique_ptr<pg::PgNodeKeeper> node, std::unique_ptr<pg::PgScheduling> scheduling,
          std::unique_ptr<pg::PgJobPool> pool)
      : options_(options),
        events_(std::move(events)),
        node_(std::move(node)),
        scheduling_(std::move(scheduling)),
        pool_(std::move(pool)) {}
  ~PgStore() override { Close(); }

  void CreateBatch(NewBatch batch, Callback<BatchCreated> done) override {
    Run(done, [this, batch = std::move(batch)](PgConnection& c) {
      return pg::InsertBatch(c, batch,
                             {.slice_rows = options_.insert_slice_rows,
                              .max_active_batches = options_.max_active_batches,
                              .node_id = node_->node_id()},
                             options_.clock());
    });
  }

  void ListBatches(BatchListQuery query, Callback<Page<BatchRecord>> done) override {
    Run(done, [query](PgConnection& c) { return pg::QueryBatches(c, query); });
  }

  void GetBatch(std::string public_id, Callback<BatchRecord> done) override {
    Run(done, [id = std::move(public_id)](PgConnection& c) { return pg::QueryBatch(c, id); });
  }

  void ListSessions(SessionListQuery query, Callback<Page<SessionRecord>> done) override {
    Run(done, [query = std::move(query)](PgConnection& c) { return pg::QuerySessions(c, query); });
  }

  void ListSessionResults(SessionResultsQuery query,
                          Callback<Page<SessionResultRow>> done) override {
    Run(done,
        [query = std::move(query)](PgConnection& c) { return pg::QuerySessionResults(c, query); });
  }

  void GetSession(int64_t session_id, Callback<SessionDetail> done) override {
    Run(done, [session_id](PgConnection& c) { return pg::QuerySession(c, session_id); });
  }

  void ClaimSessions(int max_sessions, int64_t now_ms, Callback<ClaimResult> done) override {
    scheduling_->ClaimSessions(max_sessions, now_ms, std::move(done));
  }

  void SaveExecutionState(int64_t session_id, std::string state_json,
                          int64_t started_at_ms) override {
    scheduling_->SaveExecutionState(session_id, std::move(state_json), started_at_ms);
  }

  void SaveCheckpoint(CheckpointUpdate checkpoint) override {
    scheduling_->SaveCheckpoint(std::move(checkpoint));
  }

  void FinishSession(SessionOutcome outcome, Callback<bool> done) override {
    scheduling_->FinishSession(std::move(outcome), std::move(done));
  }

  void GetBatchSpec(int64_t batch_id, Callback<std::string> done) override {
    Run(done, [batch_id](PgConnection& c) { return pg::QueryBatchSpec(c, batch_id); });
  }

  void CancelBatch(std::string public_id, Callback<BatchRecord> done) override {
    Run(done, [this, id = std::move(public_id)](PgConnection& c) {
      return pg::CancelBatch(c, id, options_.clock());
    });
  }

  void SetBatchPaused(std::string public_id, bool paused, Callback<BatchRecord> done) override {
    Run(done, [this, id = std::move(public_id), paused](PgConnection& c) {
      return pg::SetBatchPaused(c, id, paused, options_.clock());
    });
  }

  void RetryBatch(std::string public_id, int64_t now_ms, Callback<BatchRecord> done) override {
    Run(done, [id = std::move(public_id), now_ms](PgConnection& c) {
      return pg::RetryBatch(c, id, now_ms);
    });
  }

  void DeleteBatch(std::string public_id, Callback<uint64_t> done) override {
    Run(done, [id = std::move(public_id)](PgConnection& c) { return pg::DeleteBatch(c, id); });
  }

  void CancelSession(int64_t session_id, Callback<SessionRecord> done) override {
    Run(done, [this, session_id](PgConnection& c) {
      return pg::CancelSession(c, session_id, options_.clock());
    });
  }

  void RetrySession(int64_t session_id, int64_t now_ms, Callback<SessionRecord> done) override {
    Run(done,
        [session_id, now_ms](PgConnection& c) { return pg::RetrySession(c, session_id, now_ms); });
  }

  void SetQueuePaused(bool paused, Callback<QueueStatus> done) override {
    Run(done, [paused](PgConnection& c) { return pg::SetQueuePaused(c, paused); });
  }

  void GetQueueStatus(Callback<QueueStatus> done) override {
    Run(done, [](PgConnection& c) { return pg::QueryQueueStatus(c); });
  }

  void ReadEvents(EventQuery query, Callback<EventPage> done) override {
    Run(done, [query = std::move(query)](PgConnection& c) { return pg::ReadEvents(c, query); });
  }

  void ReportLiveProgress(SessionLiveProgress progress) override {
    events_->ReportLiveProgress(std::move(progress));
  }

  void TrimEvents(Callback<int64_t> done) override { events_->Trim(std::move(done)); }

  void ListNodes(Callback<std::vector<NodeRecord>> done) override {
    Run(done, [](PgConnection& c) { return pg::QueryNodes(c); });
  }

  StoreStats Stats() const override {
    // The writer figures are this node's claim and outcome transactions (requests' one-off
    // transactions run on the pool and are not counted).
    pg::PgScheduling::TransactionStats txns = scheduling_->Transactions();
    return {.reader_queue_depth = pool_->QueueDepth(),
            .writer_commits = txns.commits,
            .writer_commit_failures = txns.failures,
            .commit_latency = txns.latency,
            .transaction_latency = std::move(txns.latency),
            .reader_queries = pool_->JobsRun(),
            .outcomes_unstored = static_cast<int64_t>(scheduling_->OutcomesUnstored())};
  }

  void Close() override {
    // Requests first (they may change what the others write), then the scheduling writes
    // (their last outcomes commit), the node (stopped only after its sessions' outcomes are
    // in), and the event hub last so that it delivers every event of those commits.
    if (closed_) return;
    closed_ = true;
    pool_->Stop();
    scheduling_->Stop();
    node_->Stop();
    events_->Stop();
  }

 private:
  // Runs `fn` on a pool connection; if the pool refuses it, `done` gets the refusal at once.
  template <typename T, typename Fn>
  void Run(const Callback<T>& done, Fn fn) {
    Status s = pool_->Submit([done, fn = std::move(fn)](PgConnection& c) { done(fn(c)); });
    if (!s.ok()) done(s);
  }

  const PgStoreOptions options_;
  bool closed_ = false;
  std::unique_ptr<pg::PgEventHub> events_;  // told of changes by scheduling_: outlives it
  std::unique_ptr<pg::PgNodeKeeper> node_;
  std::unique_ptr<pg::PgScheduling> scheduling_;
  std::unique_ptr<pg::PgJobPool> pool_;
};

}  // namespace

bool IsPgStoreUri(std::string_view store) {
  return store.starts_with("postgresql://") || store.starts_with("postgres://");
}

Result<std::unique_ptr<Store>> OpenPgStore(const PgStoreOptions& options) {
  {
    ASSIGN_OR_RETURN(auto conn, PgConnection::Open(options.uri));
    RETURN_IF_ERROR(pg::ApplyPgMigrations(*conn));
  }
  ASSIGN_OR_RETURN(auto events, pg::PgEventHub::Start({.uri = options.uri,
                                                       .events = options.events,
                                                       .listener = options.event_listener,
                                                       .on_remote_stop = options.on_remote_stop,
                                                       .clock = options.clock}));
  ASSIGN_OR_RETURN(auto node,
                   pg::PgNodeKeeper::Start({.uri = options.uri,
                                            .identity = options.node,
                                            .heartbeat_interval = options.heartbeat_interval,
                                            .node_timeout = options.node_timeout,
                                            .on_remote_stop = options.on_remote_stop,
                                            .session_events = options.events.session_events,
                                            .clock = options.clock}));
  pg::PgNodeKeeper* keeper = node.get();
  ASSIGN_OR_RETURN(auto scheduling,
                   pg::PgScheduling::Start({.uri = options.uri,
                                            .node_id = [keeper] { return keeper->node_id(); },
                                            .merge_results = options.merge_results,
                                            .session_events = options.events.session_events,
                                            .events = events.get(),
                                            .sessions = &keeper->sessions(),
                                            .clock = options.clock}));
  ASSIGN_OR_RETURN(auto pool,
                   pg::PgJobPool::Start(options.uri, options.connections, options.queue_limit));
  spdlog::info("PostgreSQL store: node {} ({}) registered", keeper->node_id(), options.node.name);
  return std::unique_ptr<Store>(std::make_unique<PgStore>(
      options, std::move(events), std::move(node), std::move(scheduling), std::move(pool)));
}

}  // namespace batchd::storage
