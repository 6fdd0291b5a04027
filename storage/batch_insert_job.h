// Writes one submitted batch: its row, then its sessions in slices of bounded size, each slice
// one write transaction (see Writer). The batch stays `enqueuing`, invisible to the scheduler,
// until the transaction holding its last slice flips it to `queued`; if anything fails, the
// rows already committed are deleted (by HalfInsertedBatches, which keeps trying while the
// database cannot commit), and if the process dies instead, the next open does it (see
// recovery.h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <SQLiteCpp/Statement.h>

#include "storage/half_inserted_batches.h"
#include "storage/records.h"
#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {

class BatchInsertJob : public WriteJob {
 public:
  // `max_active_batches` > 0: the first step fails with kLimitExceeded, writing nothing, if
  // that many batches are already unfinished (checked in the step's own transaction, so two
  // submissions cannot both take the last place).
  // `leftovers` removes what a failed insert committed; it must outlive the job.
  // `created_at_ms`: the batch's created_at (the store's clock at submission).
  BatchInsertJob(NewBatch batch, int64_t created_at_ms, uint64_t slice_rows,
                 uint64_t max_active_batches, HalfInsertedBatches& leftovers,
                 Callback<BatchCreated> done);

  Result<Progress> Step(SQLite::Database& db) override;
  void Complete() override;
  void Fail(SQLite::Database& db, const Status& status) override;

 private:
  Status CheckActiveBatches(SQLite::Database& db) const;
  void InsertBatchRow(SQLite::Database& db);
  void InsertSessions(SQLite::Database& db, uint64_t count);

  const NewBatch batch_;
  const uint64_t slice_rows_;
  const uint64_t max_active_batches_;
  HalfInsertedBatches& leftovers_;
  Callback<BatchCreated> done_;
  const std::string public_id_;
  const int64_t created_at_ms_;

  // Set by the first step.
  std::chrono::steady_clock::time_point started_;
  int64_t batch_id_ = 0;
  int64_t first_session_id_ = 0;
  uint64_t inserted_ = 0;                           // sessions written by the steps so far
  std::unique_ptr<SQLite::Statement> insert_rows_;  // full-width multi-row INSERT, reused
};

}  // namespace batchd::storage
