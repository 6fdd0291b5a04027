// Removes what a batch insert that failed part-way had already committed (see BatchInsertJob).
// The insert's Fail removes it at once; when that cannot commit either (the disk that failed
// the insert is still full), the batch is kept here and removed by a write job tried again
// with a growing delay (100 ms, doubling to 5 s) until it commits, without a restart. Until
// then the batch stays `enqueuing`: invisible to the scheduler and to listings, counted among
// the active batches. If the daemon stops first, the next open removes it (recovery.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <SQLiteCpp/Database.h>

#include "core/log_throttle.h"
#include "storage/retry_timer.h"
#include "storage/writer.h"

namespace batchd::storage {

struct HalfInsertedBatch {
  int64_t batch_id = 0;
  std::string public_id;  // matched too: a rolled-back first slice may have freed batch_id
  int64_t first_session_id = 0;
  int64_t session_count = 0;
};

// Deletes the batch row and its id range of sessions, in the caller's transaction (it throws
// SQLite's exceptions). Deletes nothing if the batch row is not there.
void DeleteHalfInsertedBatch(SQLite::Database& db, const HalfInsertedBatch& batch);

class HalfInsertedBatches {
 public:
  // `writer` and `retries` must outlive this object.
  HalfInsertedBatches(Writer& writer, RetryTimer& retries) : writer_(writer), retries_(retries) {}

  // Removes `batch` in a transaction of its own on `db` (the writer's connection: call it on
  // the writer thread, outside any transaction, as WriteJob::Fail is). If that fails, it is
  // tried again later through the writer until it commits.
  void Remove(SQLite::Database& db, HalfInsertedBatch batch);

  // Batches waiting for a later try.
  int64_t Waiting() const { return waiting_.load(std::memory_order_relaxed); }

 private:
  friend class RemoveHalfInsertedBatchJob;
  void TryLater(HalfInsertedBatch batch, RetryBackoff backoff, const std::string& why);
  void Removed(const HalfInsertedBatch& batch);

  Writer& writer_;
  RetryTimer& retries_;
  std::atomic<int64_t> waiting_{0};
  LogThrottle log_;
};

}  // namespace batchd::storage
