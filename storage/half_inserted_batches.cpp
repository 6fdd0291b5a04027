#include "storage/half_inserted_batches.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <spdlog/spdlog.h>

namespace batchd::storage {

void DeleteHalfInsertedBatch(SQLite::Database& db, const HalfInsertedBatch& batch) {
  SQLite::Statement drop_batch(db, "DELETE FROM batch WHERE id = ? AND public_id = ?");
  drop_batch.bind(1, batch.batch_id);
  drop_batch.bind(2, batch.public_id);
  if (drop_batch.exec() == 0) return;
  SQLite::Statement drop_sessions(db, "DELETE FROM session WHERE id >= ? AND id < ?");
  drop_sessions.bind(1, batch.first_session_id);
  drop_sessions.bind(2, batch.first_session_id + batch.session_count);
  drop_sessions.exec();
}

// One later try: the delete as a job of a writer round.
class RemoveHalfInsertedBatchJob : public WriteJob {
 public:
  RemoveHalfInsertedBatchJob(HalfInsertedBatches& owner, HalfInsertedBatch batch,
                             RetryBackoff backoff)
      : owner_(owner), batch_(std::move(batch)), backoff_(backoff) {}

  Result<Progress> Step(SQLite::Database& db) override {
    DeleteHalfInsertedBatch(db, batch_);
    return Progress::kDone;
  }
  void Complete() override { owner_.Removed(batch_); }
  void Fail(SQLite::Database&, const Status& status) override {
    owner_.TryLater(std::move(batch_), backoff_, status.ToString());
  }

 private:
  HalfInsertedBatches& owner_;
  HalfInsertedBatch batch_;
  RetryBackoff backoff_;
};

void HalfInsertedBatches::Remove(SQLite::Database& db, HalfInsertedBatch batch) {
  try {
    SQLite::Transaction txn(db);
    DeleteHalfInsertedBatch(db, batch);
    txn.commit();
    return;
  } catch (const std::exception& e) {
    waiting_.fetch_add(1, std::memory_order_relaxed);
    TryLater(std::move(batch),
             RetryBackoff(std::chrono::milliseconds(100), std::chrono::seconds(5)), e.what());
  }
}

void HalfInsertedBatches::TryLater(HalfInsertedBatch batch, RetryBackoff backoff,
                                   const std::string& why) {
  if (std::optional<int64_t> suppressed = log_.Admit()) {
    spdlog::warn(
        "could not remove half-inserted batch {} yet ({}); trying again until it is "
        "gone{}",
        batch.public_id, why, SuppressedSuffix(*suppressed));
  }
  const std::chrono::milliseconds delay = backoff.Next();
  const bool set = retries_.After(delay, [this, batch, backoff]() mutable {
    Status s = writer_.SubmitUnbounded(
        std::make_unique<RemoveHalfInsertedBatchJob>(*this, std::move(batch), backoff));
    (void)s;  // refused only when the store closes: the next open removes the batch
  });
  // Not set when the store is closing: the next open removes every batch still enqueuing.
  (void)set;
}

void HalfInsertedBatches::Removed(const HalfInsertedBatch& batch) {
  waiting_.fetch_sub(1, std::memory_order_relaxed);
  spdlog::info("removed half-inserted batch {} ({} sessions reserved)", batch.public_id,
               batch.session_count);
}

}  // namespace batchd::storage
