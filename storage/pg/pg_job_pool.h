// A fixed set of threads, each with its own connection, running queued jobs: the PostgreSQL
// store's queries and request-driven mutations. Bounded: Submit refuses (kUnavailable) when
// `queue_limit` jobs wait or the pool is stopping. A job whose connection broke finds it
// reconnected (or still broken: its statements then fail with kUnavailable).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "core/thread_annotations.h"
#include "storage/pg/pg_connection.h"

namespace batchd::storage::pg {

class PgJobPool {
 public:
  using Job = std::function<void(PgConnection&)>;

  // Opens `threads` connections to `uri` (kUnavailable if one cannot) and starts the threads.
  static Result<std::unique_ptr<PgJobPool>> Start(const std::string& uri, int threads,
                                                  size_t queue_limit);
  ~PgJobPool();  // Stop()s

  Status Submit(Job job);
  size_t QueueDepth() const;
  int64_t JobsRun() const;
  // Runs what is queued, then joins. Idempotent.
  void Stop();

 private:
  PgJobPool(size_t queue_limit) : queue_limit_(queue_limit) {}
  void Run(PgConnection& conn);

  const size_t queue_limit_;
  mutable Mutex mu_;
  CondVar wake_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t jobs_run_ GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<PgConnection>> connections_;
  std::vector<std::thread> threads_;
};

}  // namespace batchd::storage::pg
