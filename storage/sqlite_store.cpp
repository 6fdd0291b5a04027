// The embedded Store: one Writer for every mutation, a ReadPool for every query.
#include <spdlog/spdlog.h>

#include "storage/batch_insert_job.h"
#include "storage/batch_queries.h"
#include "storage/migrations.h"
#include "storage/read_pool.h"
#include "storage/recovery.h"
#include "storage/sqlite_connection.h"
#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {
namespace {

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteStoreOptions& options, std::unique_ptr<Writer> writer,
              std::unique_ptr<ReadPool> readers)
      : options_(options), writer_(std::move(writer)), readers_(std::move(readers)) {}
  ~SqliteStore() override { Close(); }

  void CreateBatch(NewBatch batch, Callback<BatchCreated> done) override {
    std::unique_ptr<WriteJob> job =
        std::make_unique<BatchInsertJob>(std::move(batch), options_.insert_slice_rows, done);
    if (Status s = writer_->Submit(job); !s.ok()) done(s);
  }

  void ListBatches(BatchListQuery query, Callback<Page<BatchRecord>> done) override {
    Read(done, [query](SQLite::Database& db) { return QueryBatches(db, query); });
  }

  void GetBatch(std::string public_id, Callback<BatchRecord> done) override {
    Read(done, [id = std::move(public_id)](SQLite::Database& db) { return QueryBatch(db, id); });
  }

  void ListSessions(SessionListQuery query, Callback<Page<SessionRecord>> done) override {
    Read(done,
         [query = std::move(query)](SQLite::Database& db) { return QuerySessions(db, query); });
  }

  void GetSession(int64_t session_id, Callback<SessionDetail> done) override {
    Read(done, [session_id](SQLite::Database& db) { return QuerySession(db, session_id); });
  }

  StoreStats Stats() const override { return {writer_->QueueDepth(), readers_->QueueDepth()}; }

  void Close() override {
    // Writer first: in-flight submissions finish and answer before the readers go away.
    writer_->Stop();
    readers_->Stop();
  }

 private:
  template <typename T, typename Q>
  void Read(const Callback<T>& done, Q query) {
    Status s = readers_->Submit([done, query](SQLite::Database& db) { done(query(db)); });
    if (!s.ok()) done(s);
  }

  const SqliteStoreOptions options_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<ReadPool> readers_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(auto db, OpenConnection(options.db_path, ConnectionRole::kWriter));
  RETURN_IF_ERROR(ApplyMigrations(*db));
  ASSIGN_OR_RETURN(RecoveryReport recovered, RemoveHalfInsertedBatches(*db));
  if (recovered.half_inserted_batches_removed > 0) {
    spdlog::warn("removed {} batch(es) whose insert a crash interrupted ({} sessions)",
                 recovered.half_inserted_batches_removed, recovered.sessions_removed);
  }
  ASSIGN_OR_RETURN(auto readers, ReadPool::Open(options.db_path, options.reader_threads,
                                                options.reader_queue_limit));
  auto writer = std::make_unique<Writer>(std::move(db),
                                         WriterOptions{.queue_limit = options.writer_queue_limit});
  return std::unique_ptr<Store>(
      std::make_unique<SqliteStore>(options, std::move(writer), std::move(readers)));
}

}  // namespace batchd::storage
