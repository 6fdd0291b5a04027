// The event log's writing side: decides which events exist, writes them in the transactions of
// the changes they describe, and hands each committed event to the publisher
// (storage/event_publisher.h), which delivers them to the listener (the API's hub) in seq order
// on its own thread. docs/api.md ("Events") is the contract; docs/schema.md has the table.
//
// Where events come from:
//   - batch.enqueued / batch.state / batch.finished / batch.deleted: SQL triggers on `batch`
//     (migrations/0004_events.sql), in the very transaction that changes the batch's state;
//   - session.state: the claim and outcome hooks (SessionTransitionObserver), same
//     transaction, filtered by SessionEventPolicy;
//   - batch.progress and session.progress: a progress job, at most one per progress interval
//     (100 ms, storage/live_progress_coalescer.h), for the batches whose counters moved (seen by
//     SQLite's update hook on the writer connection) and the sessions that reported chunk
//     progress since the last one (written by storage/progress_event_writer.h).
// Retention deletes old events in bounded slices, never one not yet handed to the publisher nor
// one the publisher still has to read back from the log.
//
// Threads: everything but ReportLiveProgress, Start and Stop runs on the writer thread (hooks,
// jobs, AfterCommit). A ticker thread only decides when to queue the progress and retention
// jobs. ReportLiveProgress may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "core/clock.h"
#include "core/mutex.h"
#include "storage/batch_info_cache.h"
#include "storage/event_log_options.h"
#include "storage/event_publisher.h"
#include "storage/event_record.h"
#include "storage/event_table.h"
#include "storage/live_progress_coalescer.h"
#include "storage/progress_event_writer.h"
#include "storage/session_event_policy.h"
#include "storage/session_transitions.h"
#include "storage/writer.h"

namespace batchd::storage {

class EventLog final : public WriterObserver, public SessionTransitionObserver {
 public:
  // Committed events go to `publisher`, which must outlive the writer's last commit. `clock`
  // stamps the events the log writes (not the batch.* ones SQL triggers write), and gives the
  // retention cutoff and the time of rate samples.
  EventLog(EventLogOptions options, EventPublisher& publisher, WallClock clock);
  ~EventLog() override;  // Stop()s
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Watches `db` (the writer's connection, before the Writer takes it): registers the update
  // hook and finds the latest seq already published. Call once.
  void Attach(SQLite::Database& db);

  // Starts the ticker, which queues progress and retention jobs on `writer`. `writer` must have
  // this EventLog as its observer and outlive Stop().
  void Start(Writer& writer);

  // Stops the ticker (jobs already queued still run). Idempotent.
  void Stop();

  // Keeps the latest report per session; written as session.progress (and folded into its
  // batch's chunks/s) at the next progress interval. Never blocks on the database.
  void ReportLiveProgress(SessionLiveProgress progress);

  // Queues a retention pass now; `done` gets the number of events deleted.
  void Trim(std::function<void(Result<int64_t>)> done);

  // WriterObserver.
  void AfterCommit(SQLite::Database& db) override;
  void BeforeClose(SQLite::Database& db) override;

  // SessionTransitionObserver.
  void OnClaimed(SQLite::Database& db, std::span<const ClaimedSession> claimed) override;
  void OnFinished(SQLite::Database& db, const SessionOutcome& outcome) override;
  void OnSessionRequest(SQLite::Database& db, const SessionRecord& before,
                        const SessionRecord& after) override;

 private:
  friend class ProgressJob;
  friend class RetentionJob;

  static void OnRowChanged(void* self, int op, const char* database, const char* table,
                           long long rowid);
  void TickerLoop();
  void WakeTicker();

  // Writer thread.
  void WriteProgress(SQLite::Database& db);
  void Publish(SQLite::Database& db);
  // What retention may delete up to: handed to the publisher, and not still to be read by it.
  int64_t RetentionBound() const;
  void AppendSessionState(SQLite::Database& db, const BatchInfo& info, int64_t session_id,
                          SessionState from, SessionState to, int64_t attempt,
                          const SessionOutcome* outcome, int64_t now_ms);
  EventAppender& Appender(SQLite::Database& db);

  const EventLogOptions options_;
  EventPublisher& publisher_;
  const WallClock clock_;
  Writer* writer_ = nullptr;         // set by Start
  LiveProgressCoalescer coalescer_;  // thread-safe

  // Writer thread only.
  int64_t handed_seq_ = 0;                // the newest seq handed to the publisher
  bool events_written_ = false;           // the update hook saw event rows inserted
  std::vector<int64_t> changed_batches_;  // batch rowids changed since the last commit
  BatchInfoCache batch_info_;
  ProgressEventWriter progress_;
  SessionEventPolicy policy_;
  std::unique_ptr<EventAppender> appender_;
  std::unique_ptr<SQLite::Statement> newest_seq_;

  // Shared with the ticker and with reporters.
  Mutex mu_;
  CondVar wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool kicked_ GUARDED_BY(mu_) = false;  // the coalescer has news for the ticker
  bool retention_job_queued_ GUARDED_BY(mu_) = false;
  bool retention_wanted_ GUARDED_BY(mu_) = false;  // the log grew fast
  int64_t seq_at_last_retention_ GUARDED_BY(mu_) = 0;
  std::thread ticker_;
};

}  // namespace batchd::storage
