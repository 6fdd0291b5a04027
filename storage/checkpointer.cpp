#include "storage/checkpointer.h"

#include <sqlite3.h>

#include <spdlog/spdlog.h>

#include "storage/sqlite_connection.h"

namespace batchd::storage {

Result<std::unique_ptr<Checkpointer>> Checkpointer::Start(const std::filesystem::path& path,
                                                          CheckpointerOptions options) {
  ASSIGN_OR_RETURN(auto db, OpenConnection(path, ConnectionRole::kCheckpointer));
  std::unique_ptr<Checkpointer> c(new Checkpointer(std::move(db), options));
  c->thread_ = std::thread([raw = c.get()] { raw->Run(); });
  return c;
}

Checkpointer::~Checkpointer() { Stop(); }

void Checkpointer::Attach(SQLite::Database& writer) {
  sqlite3_wal_hook(writer.getHandle(), &Checkpointer::OnWalCommit, this);
}

int Checkpointer::OnWalCommit(void* self, sqlite3* writer, const char* schema, int frames) {
  auto* c = static_cast<Checkpointer*>(self);
  if (frames >= c->options_.writer_frames) {
    // Bound the WAL: copy the little the background checkpoints have not, so that the next
    // transaction starts the WAL over. SQLITE_BUSY means a background checkpoint holds the
    // checkpoint lock: no new one starts until the writer has had its turn (after one of its
    // next commits), or the writer could keep losing the race while the WAL grows.
    const int rc =
        sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    MutexLock lock(c->mu_);
    c->writer_turn_ = rc == SQLITE_BUSY;
  } else if (frames >= c->options_.background_frames) {
    bool notify = false;
    {
      MutexLock lock(c->mu_);
      notify = !c->pending_;
      c->pending_ = true;
    }
    if (notify) c->wanted_.Signal();
  }
  return SQLITE_OK;
}

void Checkpointer::Run() {
  MutexLock lock(mu_);
  for (;;) {
    while (!(pending_ && !writer_turn_) && !stopping_) wanted_.Wait(mu_);
    if (stopping_) return;
    pending_ = false;
    lock.Unlock();
    const int rc = sqlite3_wal_checkpoint_v2(db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      // Not fatal: the WAL keeps every commit, and the writer's own checkpoint bounds it. On a
      // full disk it fails at every commit, so once a minute is enough.
      if (std::optional<int64_t> suppressed = failure_log_.Admit()) {
        spdlog::warn("background checkpoint failed: {}{}", sqlite3_errstr(rc),
                     SuppressedSuffix(*suppressed));
      }
    }
    lock.Lock();
  }
}

void Checkpointer::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wanted_.SignalAll();
  if (thread_.joinable()) thread_.join();
  db_.reset();
}

}  // namespace batchd::storage
