#include "storage/read_pool.h"

#include "storage/sqlite_connection.h"

namespace batchd::storage {

Result<std::unique_ptr<ReadPool>> ReadPool::Open(const std::filesystem::path& path, int threads,
                                                 size_t queue_limit) {
  std::unique_ptr<ReadPool> pool(new ReadPool(queue_limit));
  std::vector<std::unique_ptr<SQLite::Database>> connections;
  for (int i = 0; i < threads; ++i) {
    ASSIGN_OR_RETURN(auto db, OpenConnection(path, ConnectionRole::kReader));
    connections.push_back(std::move(db));
  }
  for (auto& db : connections) {
    pool->threads_.emplace_back([p = pool.get(), db = std::shared_ptr(std::move(db))] {
      StatementCache statements(*db);  // a local: finalized before the thread drops `db`
      while (std::optional<Query> query = p->queue_.Pop()) {
        (*query)(statements);
        p->queries_run_.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  return pool;
}

ReadPool::~ReadPool() { Stop(); }

Status ReadPool::Submit(Query query) {
  if (!queue_.TryPush(query)) {
    return Status::Unavailable("too many queries waiting for the database; retry later");
  }
  return Status::Ok();
}

void ReadPool::Stop() {
  queue_.Close();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace batchd::storage
