// A ChunkStore (pipeline/stores/chunk_store.h) over an in-memory map, for format tests and the
// metadata fuzzers (fuzz/), which share it.
//
// Why not the real file store in a temp dir: a fuzzer must run millions of inputs a minute and
// replay each one exactly. The file store answers on its I/O threads after real file I/O, so
// each input would cost a file write, a read and two thread hops, and coverage would depend on
// thread timing. The formats only ever call GetMany/Put through ReadKey/WriteKey, so this store
// answers on the calling thread (allowed by the contract: ReadKey waits for a callback, whoever
// runs it) and applies the same key rule as every store (ValidateStoreKey).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline::testing {

class MemoryChunkStore final : public ChunkStore {
 public:
  explicit MemoryChunkStore(std::string url) : url_(std::move(url)) {}

  // Replaces what is stored under `key` (no key check: tests may plant anything).
  void Set(const std::string& key, Bytes data);
  void Clear();

  // Answers every key on the calling thread, in order; kInvalidArgument for a key every store
  // refuses, nullopt for a missing one.
  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<CancelToken> cancel, ReadCallback on_read) override;
  void Put(std::string key, Bytes data, WriteCallback done) override;
  const std::string& url() const override { return url_; }

 private:
  const std::string url_;
  Mutex mu_;
  std::map<std::string, Bytes> objects_ GUARDED_BY(mu_);
};

}  // namespace batchd::pipeline::testing
