// The embedded Store: one Writer for every mutation, a ReadPool for every query.
#include <type_traits>

#include <SQLiteCpp/Exception.h>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "storage/batch_insert_job.h"
#include "storage/batch_queries.h"
#include "storage/checkpointer.h"
#include "storage/claim_job.h"
#include "storage/event_log.h"
#include "storage/event_publisher.h"
#include "storage/event_table.h"
#include "storage/function_job.h"
#include "storage/half_inserted_batches.h"
#include "storage/lifecycle.h"
#include "storage/migrations.h"
#include "storage/outcome_buffer.h"
#include "storage/read_pool.h"
#include "storage/recovery.h"
#include "storage/retry_timer.h"
#include "storage/session_results.h"
#include "storage/sqlite_connection.h"
#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {
namespace {

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteStoreOptions& options, std::unique_ptr<Checkpointer> checkpointer,
              std::unique_ptr<EventPublisher> publisher, std::unique_ptr<EventLog> events,
              std::unique_ptr<Writer> writer, std::unique_ptr<ReadPool> readers)
      : options_(options),
        checkpointer_(std::move(checkpointer)),
        publisher_(std::move(publisher)),
        events_(std::move(events)),
        writer_(std::move(writer)),
        readers_(std::move(readers)),
        outcomes_(*writer_, retries_, options.merge_results),
        leftovers_(*writer_, retries_) {
    outcomes_.SetObserver(events_.get());
    events_->Start(*writer_);
  }
  ~SqliteStore() override { Close(); }

  void CreateBatch(NewBatch batch, Callback<BatchCreated> done) override {
    Write(std::make_unique<BatchInsertJob>(std::move(batch), options_.clock(),
                                           options_.insert_slice_rows, options_.max_active_batches,
                                           leftovers_, done),
          done);
  }

  void ListBatches(BatchListQuery query, Callback<Page<BatchRecord>> done) override {
    Read(done, [query](StatementCache& s) { return QueryBatches(s, query); });
  }

  void GetBatch(std::string public_id, Callback<BatchRecord> done) override {
    Read(done, [id = std::move(public_id)](StatementCache& s) { return QueryBatch(s, id); });
  }

  void ListSessions(SessionListQuery query, Callback<Page<SessionRecord>> done) override {
    Read(done,
         [query = std::move(query)](SQLite::Database& db) { return QuerySessions(db, query); });
  }

  void ListSessionResults(SessionResultsQuery query,
                          Callback<Page<SessionResultRow>> done) override {
    Read(done,
         [query = std::move(query)](StatementCache& s) { return QuerySessionResults(s, query); });
  }

  void GetSession(int64_t session_id, Callback<SessionDetail> done) override {
    Read(done, [session_id](SQLite::Database& db) { return QuerySession(db, session_id); });
  }

  void ClaimSessions(int max_sessions, int64_t now_ms, Callback<ClaimResult> done) override {
    Write(std::make_unique<ClaimJob>(max_sessions, now_ms, writer_->statements(), done,
                                     events_.get(), &outcomes_),
          done);
  }

  void SaveExecutionState(int64_t session_id, std::string state_json,
                          int64_t started_at_ms) override {
    outcomes_.SaveExecutionState(session_id, state_json, started_at_ms);
  }

  void SaveCheckpoint(CheckpointUpdate checkpoint) override {
    outcomes_.SaveCheckpoint(std::move(checkpoint));
  }

  void FinishSession(SessionOutcome outcome, Callback<bool> done) override {
    outcomes_.FinishSession(std::move(outcome), std::move(done));
  }

  void GetBatchSpec(int64_t batch_id, Callback<std::string> done) override {
    Read(done, [batch_id](SQLite::Database& db) { return QueryBatchSpec(db, batch_id); });
  }

  void CancelBatch(std::string public_id, Callback<BatchRecord> done) override {
    Mutate<BatchRecord>(done, [this, id = std::move(public_id)](SQLite::Database& db) {
      return CancelBatchTxn(db, id, options_.clock());
    });
  }

  void SetBatchPaused(std::string public_id, bool paused, Callback<BatchRecord> done) override {
    Mutate<BatchRecord>(done, [this, id = std::move(public_id), paused](SQLite::Database& db) {
      return SetBatchPausedTxn(db, id, paused, options_.clock());
    });
  }

  void RetryBatch(std::string public_id, int64_t now_ms, Callback<BatchRecord> done) override {
    Mutate<BatchRecord>(done, [id = std::move(public_id), now_ms](SQLite::Database& db) {
      return RetryBatchTxn(db, id, now_ms);
    });
  }

  void DeleteBatch(std::string public_id, Callback<uint64_t> done) override {
    Mutate<uint64_t>(
        done, [id = std::move(public_id)](SQLite::Database& db) { return DeleteBatchTxn(db, id); });
  }

  void CancelSession(int64_t session_id, Callback<SessionRecord> done) override {
    Mutate<SessionRecord>(done, [this, session_id](SQLite::Database& db) {
      return WithSessionEvent(db, session_id,
                              [&] { return CancelSessionTxn(db, session_id, options_.clock()); });
    });
  }

  void RetrySession(int64_t session_id, int64_t now_ms, Callback<SessionRecord> done) override {
    Mutate<SessionRecord>(done, [this, session_id, now_ms](SQLite::Database& db) {
      return WithSessionEvent(db, session_id,
                              [&] { return RetrySessionTxn(db, session_id, now_ms); });
    });
  }

  void SetQueuePaused(bool paused, Callback<QueueStatus> done) override {
    Mutate<QueueStatus>(done,
                        [paused](SQLite::Database& db) { return SetQueuePausedTxn(db, paused); });
  }

  void GetQueueStatus(Callback<QueueStatus> done) override {
    Read(done, [](StatementCache& s) { return QueryQueueStatus(s); });
  }

  void ReadEvents(EventQuery query, Callback<EventPage> done) override {
    Read(done, [query = std::move(query)](SQLite::Database& db) {
      return storage::ReadEvents(db, query);
    });
  }

  void ReportLiveProgress(SessionLiveProgress progress) override {
    events_->ReportLiveProgress(std::move(progress));
  }

  void TrimEvents(Callback<int64_t> done) override { events_->Trim(std::move(done)); }

  void ListNodes(Callback<std::vector<NodeRecord>> done) override {
    Read(done, [this](StatementCache& s) -> Result<std::vector<NodeRecord>> {
      ASSIGN_OR_RETURN(QueueStatus queue, QueryQueueStatus(s));
      NodeRecord self{.id = 1,
                      .identity = options_.node,
                      .started_at_ms = opened_at_ms_,
                      .heartbeat_at_ms = options_.clock(),
                      .state = "alive",
                      .running = queue.counts.in_progress};
      return std::vector<NodeRecord>{std::move(self)};
    });
  }

  StoreStats Stats() const override {
    WriterStats w = writer_->Stats();
    StoreHealthSnapshot health = writer_->health().Snapshot();
    return {.writer_queue_depth = w.queue_depth,
            .reader_queue_depth = readers_->QueueDepth(),
            .writer_commits = w.commits,
            .writer_commit_failures = w.commit_failures,
            .writer_steps = w.steps,
            .commit_latency = std::move(w.commit),
            .transaction_latency = std::move(w.transaction),
            .reader_queries = readers_->QueriesRun(),
            .degraded = health.degraded,
            .degraded_reason = std::move(health.reason),
            .commit_failures_by_cause = health.failures,
            .outcomes_unstored = static_cast<int64_t>(outcomes_.Unstored()),
            .half_inserted_batches = leftovers_.Waiting()};
  }

  void Close() override {
    // The event ticker first (it queues jobs on the writer); then one last try of the outcomes
    // waiting for a retry, and no more retries; then the writer: in-flight submissions finish
    // and answer (writes failing now give up) before the readers go away. Its last commits hand
    // their events to the publisher, which then delivers everything to the listener and stops.
    // The writer's connection (whose commits call the checkpointer) closes before the
    // checkpointer stops.
    events_->Stop();
    outcomes_.Stop();
    retries_.Stop();
    writer_->Stop();
    publisher_->Stop();
    checkpointer_->Stop();
    readers_->Stop();
  }

 private:
  // Queues `job`; if the writer refuses it, `done` gets the refusal at once.
  template <typename T>
  void Write(std::unique_ptr<WriteJob> job, const Callback<T>& done) {
    if (Status s = writer_->Submit(job); !s.ok()) done(s);
  }

  template <typename T>
  void Mutate(const Callback<T>& done, typename FunctionJob<T>::Fn fn) {
    Write(std::make_unique<FunctionJob<T>>(std::move(fn), done), done);
  }

  // `query` takes the reader's StatementCache (frequent reads) or its connection.
  template <typename T, typename Q>
  void Read(const Callback<T>& done, Q query) {
    Status s = readers_->Submit([done, query](StatementCache& statements) {
      if constexpr (std::is_invocable_v<Q, StatementCache&>) {
        done(query(statements));
      } else {
        done(query(statements.db()));
      }
    });
    if (!s.ok()) done(s);
  }

  // A request about one session: `change` runs in the transaction, and the event log hears of
  // the transition it made (in the same transaction).
  template <typename Change>
  Result<SessionRecord> WithSessionEvent(SQLite::Database& db, int64_t session_id, Change change) {
    ASSIGN_OR_RETURN(SessionDetail before, QuerySession(db, session_id));
    ASSIGN_OR_RETURN(SessionRecord after, change());
    events_->OnSessionRequest(db, before.session, after);
    return after;
  }

  const SqliteStoreOptions options_;
  const int64_t opened_at_ms_ = options_.clock();
  std::unique_ptr<Checkpointer> checkpointer_;  // outlives writer_'s connection
  std::unique_ptr<EventPublisher> publisher_;   // events_ hands it events: outlives it
  std::unique_ptr<EventLog> events_;            // the writer's observer: outlives it
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<ReadPool> readers_;
  RetryTimer retries_;             // writes tried again later; stopped before writer_
  OutcomeBuffer outcomes_;         // flushes through writer_
  HalfInsertedBatches leftovers_;  // removes failed inserts' rows through writer_
};

// How the event publisher reads back events it could not keep in memory: a read-only
// connection of its own, opened the first time it is needed (it rarely is), used only on the
// publisher's thread.
EventLogReader LazyEventLogReader(std::filesystem::path db_path) {
  auto db = std::make_shared<std::unique_ptr<SQLite::Database>>();
  return [db_path = std::move(db_path), db](const EventQuery& query) -> Result<EventPage> {
    if (!*db) {
      ASSIGN_OR_RETURN(*db, OpenConnection(db_path, ConnectionRole::kReader));
    }
    return storage::ReadEvents(**db, query);
  };
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(auto db, OpenConnection(options.db_path, ConnectionRole::kWriter));
  if (options.check_integrity) {
    if (Status s = CheckIntegrity(*db, options.db_path.string()); !s.ok()) {
      return Status::Corrupt(s.message() +
                             ". Restore it from a backup, or start with --skip-integrity-check to "
                             "read what is still readable");
    }
  }
  RETURN_IF_ERROR(ApplyMigrations(*db));
  ASSIGN_OR_RETURN(RecoveryReport recovered, RemoveHalfInsertedBatches(*db));
  if (recovered.half_inserted_batches_removed > 0) {
    spdlog::warn("removed {} batch(es) whose insert a crash interrupted ({} sessions)",
                 recovered.half_inserted_batches_removed, recovered.sessions_removed);
  }
  ASSIGN_OR_RETURN(InterruptedSessions interrupted,
                   RequeueInterruptedSessions(*db, options.clock(), options.crash_policy));
  if (interrupted.requeued > 0) {
    spdlog::warn("put {} session(s) interrupted by a crash back in the queue; they resume",
                 interrupted.requeued);
  }
  if (interrupted.quarantined > 0) {
    spdlog::error(
        "{} session(s) were in progress at {} crashes of the daemon in a row: ended in error "
        "(\"crashed the daemon N times\") instead of being requeued",
        interrupted.quarantined, options.crash_policy.quarantine_after);
  }
  ASSIGN_OR_RETURN(auto readers, ReadPool::Open(options.db_path, options.reader_threads,
                                                options.reader_queue_limit));
  ASSIGN_OR_RETURN(auto checkpointer, Checkpointer::Start(options.db_path));
  checkpointer->Attach(*db);
  auto publisher = std::make_unique<EventPublisher>(
      options.event_listener, LazyEventLogReader(options.db_path),
      EventPublisherOptions{.max_queued_events = options.events.publisher_queue_events});
  auto events = std::make_unique<EventLog>(options.events, *publisher, options.clock);
  try {
    events->Attach(*db);
  } catch (const SQLite::Exception& e) {
    return Status::IoError(std::string("opening the event log: ") + e.what());
  }
  auto writer = std::make_unique<Writer>(
      std::move(db),
      WriterOptions{.queue_limit = options.writer_queue_limit, .observer = events.get()});
  return std::unique_ptr<Store>(
      std::make_unique<SqliteStore>(options, std::move(checkpointer), std::move(publisher),
                                    std::move(events), std::move(writer), std::move(readers)));
}

}  // namespace batchd::storage
