// The event log's writing side: decides which events exist, writes them in the transactions of
// the changes they describe, and hands each committed event to a listener (the API's hub) in
// seq order. docs/api.md ("Events") is the contract; docs/schema.md has the table.
//
// Where events come from:
//   - batch.enqueued / batch.state / batch.finished / batch.deleted: SQL triggers on `batch`
//     (migrations/0004_events.sql), in the very transaction that changes the batch's state;
//   - session.state: the claim and outcome hooks (SessionTransitionObserver), same
//     transaction, filtered by SessionEventPolicy;
//   - batch.progress and session.progress: a progress job, at most one per progress interval
//     (100 ms), for the batches whose counters moved (seen by SQLite's update hook on the
//     writer connection) and the sessions that reported chunk progress since the last one.
//
// Threads: everything but ReportProgress, Start and Stop runs on the writer thread (hooks,
// jobs, AfterCommit, the listener). A ticker thread only decides when to queue the progress and
// retention jobs. ReportProgress may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "storage/event_log_options.h"
#include "storage/event_record.h"
#include "storage/event_table.h"
#include "storage/rate_window.h"
#include "storage/session_event_policy.h"
#include "storage/session_transitions.h"
#include "storage/writer.h"

namespace batchd::storage {

class EventLog final : public WriterObserver, public SessionTransitionObserver {
 public:
  EventLog(EventLogOptions options, EventListener listener);
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
  void ReportProgress(SessionProgress progress);

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

  struct BatchInfo {
    std::string public_id;
    uint64_t sessions = 0;
  };
  // What batch.progress last said about a batch, and the windows its rates come from.
  struct BatchProgress {
    std::optional<SessionCounts> counts;
    int64_t chunks_done = 0;  // summed over its sessions' reports
    int64_t bytes_done = 0;
    int64_t chunks_reported = -1;  // chunks_done when last written (-1: never)
    int64_t suppressed_reported = 0;
    RateWindow sessions_rate;
    RateWindow chunks_rate;
    RateWindow bytes_rate;
  };

  static void OnRowChanged(void* self, int op, const char* database, const char* table,
                           long long rowid);
  void TickerLoop();

  // Writer thread.
  void WriteProgress(SQLite::Database& db);
  void WriteBatchProgress(SQLite::Database& db, int64_t batch_id, int64_t now_ms);
  void FoldSessionProgress(SQLite::Database& db, const SessionProgress& report, int64_t now_ms);
  void Publish(SQLite::Database& db);
  const BatchInfo* Info(SQLite::Database& db, int64_t batch_id);
  std::optional<int64_t> BatchIdOf(SQLite::Database& db, const std::string& public_id);
  void AppendSessionState(SQLite::Database& db, const BatchInfo& info, int64_t session_id,
                          SessionState from, SessionState to, int64_t attempt,
                          const SessionOutcome* outcome, int64_t now_ms);
  EventAppender& Appender(SQLite::Database& db);

  const EventLogOptions options_;
  const EventListener listener_;
  Writer* writer_ = nullptr;  // set by Start

  // Writer thread only.
  int64_t published_seq_ = 0;
  bool events_written_ = false;           // the update hook saw event rows inserted
  std::vector<int64_t> changed_batches_;  // batch rowids changed since the last commit
  std::set<int64_t> progress_candidates_;
  std::map<int64_t, BatchProgress> progress_;
  std::unordered_map<int64_t, int64_t> suppressed_;      // batch id -> session events not written
  std::unordered_map<int64_t, int64_t> session_chunks_;  // session id -> chunks last reported
  std::unordered_map<int64_t, int64_t> session_bytes_;
  std::unordered_map<int64_t, BatchInfo> batch_info_;
  int64_t last_info_id_ = 0;  // a one-entry cache in front of batch_info_
  const BatchInfo* last_info_ = nullptr;
  SessionEventPolicy policy_;
  std::unique_ptr<EventAppender> appender_;
  std::unique_ptr<SQLite::Statement> tail_;

  // Shared with the ticker and with reporters.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                                 // guarded by mu_
  bool progress_wanted_ = false;                          // guarded by mu_
  bool progress_job_queued_ = false;                      // guarded by mu_
  bool retention_job_queued_ = false;                     // guarded by mu_
  bool retention_wanted_ = false;                         // guarded by mu_: the log grew fast
  int64_t seq_at_last_retention_ = 0;                     // guarded by mu_
  std::unordered_map<int64_t, SessionProgress> reports_;  // guarded by mu_: latest each
  std::thread ticker_;
};

}  // namespace batchd::storage
