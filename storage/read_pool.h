// A fixed set of reader threads, each owning a read-only WAL connection and a cache of its
// prepared statements. Queries never wait for the writer (WAL readers see the last committed
// state) and never run on the caller's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "core/bounded_queue.h"
#include "core/status.h"
#include "storage/statement_cache.h"

namespace batchd::storage {

class ReadPool {
 public:
  // A query gets its reader's statement cache (and through it the connection, db()). Preparing
  // a point read cost more than running it, so the API's frequent reads use the cache.
  using Query = std::function<void(StatementCache&)>;

  // Opens `threads` read-only connections to `path` (the database must exist).
  static Result<std::unique_ptr<ReadPool>> Open(const std::filesystem::path& path, int threads,
                                                size_t queue_limit);
  ~ReadPool();  // Stop()s
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // Queues `query` to run on one of the connections. kUnavailable (query not run) when the
  // queue is full or the pool is stopping. `query` must catch its own exceptions.
  Status Submit(Query query);

  size_t QueueDepth() const { return queue_.size(); }
  // Queries run so far (for metrics).
  int64_t QueriesRun() const { return queries_run_.load(std::memory_order_relaxed); }

  // Runs what is queued, joins the threads, closes the connections. Idempotent.
  void Stop();

 private:
  explicit ReadPool(size_t queue_limit) : queue_(queue_limit) {}

  BoundedQueue<Query> queue_;
  std::atomic<int64_t> queries_run_{0};
  std::vector<std::thread> threads_;  // each owns one connection
};

}  // namespace batchd::storage
