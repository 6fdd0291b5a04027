#include "storage/batch_info_cache.h"

#include <SQLiteCpp/Statement.h>

namespace batchd::storage {

const BatchInfo* BatchInfoCache::Find(SQLite::Database& db, int64_t batch_id) {
  if (batch_id == last_id_ && last_ != nullptr) return last_;
  auto it = batches_.find(batch_id);
  if (it == batches_.end()) {
    if (batches_.size() >= capacity_) {
      batches_.clear();
      last_ = nullptr;
    }
    SQLite::Statement s(db, "SELECT public_id, session_count FROM batch WHERE id = ?");
    s.bind(1, batch_id);
    if (!s.executeStep()) return nullptr;
    it = batches_
             .emplace(batch_id, BatchInfo{s.getColumn(0).getString(),
                                          static_cast<uint64_t>(s.getColumn(1).getInt64())})
             .first;
  }
  last_id_ = batch_id;
  last_ = &it->second;
  return last_;
}

void BatchInfoCache::Forget(int64_t batch_id) {
  batches_.erase(batch_id);
  last_ = nullptr;
}

}  // namespace batchd::storage
