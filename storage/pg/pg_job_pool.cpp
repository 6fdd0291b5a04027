#include "storage/pg/pg_job_pool.h"

namespace batchd::storage::pg {

Result<std::unique_ptr<PgJobPool>> PgJobPool::Start(const std::string& uri, int threads,
                                                    size_t queue_limit) {
  std::unique_ptr<PgJobPool> pool(new PgJobPool(queue_limit));
  for (int i = 0; i < std::max(1, threads); ++i) {
    ASSIGN_OR_RETURN(auto conn, PgConnection::Open(uri));
    pool->connections_.push_back(std::move(conn));
  }
  for (auto& conn : pool->connections_) {
    pool->threads_.emplace_back([p = pool.get(), c = conn.get()] { p->Run(*c); });
  }
  return pool;
}

PgJobPool::~PgJobPool() { Stop(); }

Status PgJobPool::Submit(Job job) {
  {
    MutexLock lock(mu_);
    if (stopping_) return Status::Unavailable("the store is closing");
    if (queue_.size() >= queue_limit_) return Status::Unavailable("the store's queue is full");
    queue_.push_back(std::move(job));
  }
  wake_.Signal();
  return Status::Ok();
}

size_t PgJobPool::QueueDepth() const {
  MutexLock lock(mu_);
  return queue_.size();
}

int64_t PgJobPool::JobsRun() const {
  MutexLock lock(mu_);
  return jobs_run_;
}

void PgJobPool::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void PgJobPool::Run(PgConnection& conn) {
  for (;;) {
    Job job;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) wake_.Wait(mu_);
      if (queue_.empty()) return;  // stopping, and everything queued has run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (conn.IsBroken()) (void)conn.Reconnect();
    job(conn);
    MutexLock lock(mu_);
    ++jobs_run_;
  }
}

}  // namespace batchd::storage::pg
