// Parsed batch specs by batch id, so materializing a million sessions parses each spec once.
// Specs never change after submission, so entries never go stale; the cache is bounded and
// drops its oldest entry when full.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "core/batch_spec.h"
#include "storage/store.h"

namespace batchd::daemon {

class SpecCache {
 public:
  SpecCache(storage::Store& store, size_t capacity) : store_(store), capacity_(capacity) {}

  // The batch's spec, fetched from the store (blocking) on a miss. kNotFound if the batch is
  // gone; kInternal if the stored spec does not parse.
  Result<std::shared_ptr<const BatchSpec>> Get(int64_t batch_id);

 private:
  storage::Store& store_;
  const size_t capacity_;
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<const BatchSpec>> specs_;  // guarded by mu_
  std::deque<int64_t> order_;                                  // guarded by mu_: oldest first
};

}  // namespace batchd::daemon
