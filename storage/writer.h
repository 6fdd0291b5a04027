// The single writer: one thread, one read-write connection, one bounded queue of jobs.
//
// SQLite allows one writer at a time; funnelling every write through one thread turns lock
// contention (SQLITE_BUSY) into queueing, and lets the writer group-commit: it takes every job
// that is waiting, runs each inside its own savepoint of ONE transaction, and commits once.
// A job too big for one transaction (a million-session batch) runs in steps: each step is one
// slice in one round, and between its steps other jobs get their turn, so no write ever waits
// behind more than one slice.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "core/bounded_queue.h"
#include "core/latency_histogram.h"
#include "core/status.h"
#include "storage/statement_cache.h"
#include "storage/store_health.h"

namespace batchd::storage {

class WriteJob {
 public:
  virtual ~WriteJob() = default;

  enum class Progress { kDone, kMore };

  // Does the next piece of work inside the writer's open transaction (within a savepoint).
  // On error (a Status or an exception) only this step is rolled back. kMore asks for another
  // step after the transaction commits and other queued jobs have had a turn.
  virtual Result<Progress> Step(SQLite::Database& db) = 0;

  // A SQLite exception thrown by Step is reported to the writer's StoreHealth (as is a failed
  // COMMIT); a Status returned is the job's own business (a conflict, a refusal) and is not.
  // Exactly one of these is called, once, on the writer thread, outside any transaction:
  // Complete after the transaction holding the last step committed; Fail when a step failed,
  // its transaction could not commit, or the writer stopped before the job finished. `status`
  // is the step's own failure when it had one (a claim's "not now" stays that even when
  // another job's step then lost the round), else the round's. Fail may write to `db` to undo
  // the job's earlier committed steps.
  virtual void Complete() = 0;
  virtual void Fail(SQLite::Database& db, const Status& status) = 0;
};

// Told about the writer's transactions, on the writer thread (the event log publishes what a
// transaction wrote once it is durable). Must not block.
class WriterObserver {
 public:
  virtual ~WriterObserver() = default;
  // After each successful COMMIT, before the round's jobs hear Complete().
  virtual void AfterCommit(SQLite::Database& db) = 0;
  // Once, after the last round, just before the connection closes.
  virtual void BeforeClose(SQLite::Database& db) = 0;
};

// What the writer has done since it started, for metrics (docs/metrics.md).
struct WriterStats {
  size_t queue_depth = 0;             // jobs waiting, including the remaining steps of sliced ones
  int64_t commits = 0;                // transactions committed
  int64_t commit_failures = 0;        // transactions that failed to commit (their jobs failed)
  int64_t steps = 0;                  // job steps run (a group commit holds many)
  LatencyHistogram::Snapshot commit;  // the COMMIT statement alone
  LatencyHistogram::Snapshot transaction;  // BEGIN to COMMIT done: one round, every step
};

struct WriterOptions {
  size_t queue_limit = 4096;
  size_t max_jobs_per_commit = 512;
  WriterObserver* observer = nullptr;  // optional; must outlive the Writer
};

class Writer {
 public:
  // Takes ownership of the read-write connection and starts the thread.
  Writer(std::unique_ptr<SQLite::Database> db, WriterOptions options);
  ~Writer();  // Stop()s
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `job`. kUnavailable (job untouched, not run) when the queue is full or stopping.
  Status Submit(std::unique_ptr<WriteJob>& job);

  // Queues `job` past the queue limit. Only for internal jobs whose number is bounded by
  // construction (the outcome buffer keeps at most one flush queued); fails only when stopped.
  Status SubmitUnbounded(std::unique_ptr<WriteJob> job);

  size_t QueueDepth() const { return queue_.size(); }

  // Safe from any thread; the histograms are read without stopping the writer.
  WriterStats Stats() const;

  // Whether writes fail, and why (store_health.h). Safe from any thread.
  const StoreHealth& health() const { return health_; }

  // The writer connection's prepared statements, for jobs to reuse across rounds. Use it only
  // on the writer thread, from a job's Step, Complete or Fail.
  StatementCache& statements() { return statements_; }

  // Refuses new jobs, runs every queued job (including all remaining steps of sliced ones) to
  // the end, then joins the thread and closes the connection. Idempotent.
  void Stop();

 private:
  void Run();
  void RunRound(std::vector<std::unique_ptr<WriteJob>>& round);
  void CommitRound(std::chrono::steady_clock::time_point begin);  // throws SQLite's exceptions

  std::unique_ptr<SQLite::Database> db_;  // used only by thread_
  StatementCache statements_;             // of *db_, used only by thread_; cleared before it
  const WriterOptions options_;
  BoundedQueue<std::unique_ptr<WriteJob>> queue_;
  // Written by thread_, read by Stats() from anywhere.
  LatencyHistogram commit_latency_;
  LatencyHistogram transaction_latency_;
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> commit_failures_{0};
  std::atomic<int64_t> steps_{0};
  StoreHealth health_;  // written by thread_, read from anywhere (it locks)
  std::thread thread_;
};

}  // namespace batchd::storage
