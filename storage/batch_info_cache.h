// What the session-event hooks need to know about a batch (its public id and size), kept so
// that a claim or an outcome of a batch's sessions costs one lookup per batch, not a query per
// session. Batches never change these two; a deleted batch is forgotten. Writer thread only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include <SQLiteCpp/Database.h>

namespace batchd::storage {

struct BatchInfo {
  std::string public_id;
  uint64_t sessions = 0;
};

class BatchInfoCache {
 public:
  // At most `capacity` batches are kept; past it the cache starts empty again (it refills on
  // demand, and only batches with sessions running are asked about).
  explicit BatchInfoCache(size_t capacity = 4096) : capacity_(capacity) {}

  // The batch `batch_id`, read from `db` the first time; nullptr if it does not exist. The
  // pointer is valid until the next Find or Forget. Throws SQLite::Exception.
  const BatchInfo* Find(SQLite::Database& db, int64_t batch_id);

  void Forget(int64_t batch_id);

 private:
  const size_t capacity_;
  std::unordered_map<int64_t, BatchInfo> batches_;
  int64_t last_id_ = 0;  // a one-entry cache in front of batches_
  const BatchInfo* last_ = nullptr;
};

}  // namespace batchd::storage
