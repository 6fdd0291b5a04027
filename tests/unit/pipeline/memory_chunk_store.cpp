#include "memory_chunk_store.h"

#include "pipeline/stores/store_key.h"

namespace batchd::pipeline::testing {

void MemoryChunkStore::Set(const std::string& key, Bytes data) {
  MutexLock lock(mu_);
  objects_[key] = std::move(data);
}

void MemoryChunkStore::Clear() {
  MutexLock lock(mu_);
  objects_.clear();
}

void MemoryChunkStore::GetMany(std::vector<std::string> keys, int, std::shared_ptr<CancelToken>,
                               ReadCallback on_read) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status valid = ValidateStoreKey(keys[i]); !valid.ok()) {
      on_read(i, valid);
      continue;
    }
    std::optional<Bytes> found;
    {
      MutexLock lock(mu_);
      if (auto it = objects_.find(keys[i]); it != objects_.end()) found = it->second;
    }
    // Called without the lock, as a real store would: the callback may call back in.
    on_read(i, std::move(found));
  }
}

void MemoryChunkStore::Put(std::string key, Bytes data, WriteCallback done) {
  if (Status valid = ValidateStoreKey(key); !valid.ok()) return done(valid);
  Set(key, std::move(data));
  done(Status::Ok());
}

}  // namespace batchd::pipeline::testing
