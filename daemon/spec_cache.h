// Parsed batch specs by batch id, so materializing a million sessions parses each spec once.
// Specs never change after submission, so entries never go stale. The cache is bounded by the
// memory its parsed specs take (estimated from their JSON trees, which can be tens of times
// larger than the text: 333k ten-deep nested items held 200-400 MB), dropping the least
// recently used entries past the budget; a spec larger than the whole budget is parsed for its
// caller and not kept. A deleted batch's entry is dropped at once (Forget); entries of finished
// batches are never used again, so they are the first to go.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/batch_spec.h"
#include "core/mutex.h"
#include "storage/store.h"

namespace batchd::daemon {

class SpecCache {
 public:
  // `budget_bytes`: the estimated memory of the specs kept (SpecMemoryBytes).
  SpecCache(storage::Store& store, size_t budget_bytes) : store_(store), budget_(budget_bytes) {}

  // The batch's spec, fetched from the store (blocking) on a miss. kNotFound if the batch is
  // gone; kInternal if the stored spec does not parse. `public_id` is the batch's, kept with
  // the entry for Forget.
  Result<std::shared_ptr<const BatchSpec>> Get(int64_t batch_id, std::string_view public_id);

  // Drops the entry of the batch with this public id, if any: the batch was deleted, so none
  // of its sessions will be materialized again, and its spec (which may be large) must not
  // wait for the least-recently-used order to reach it. Specs already handed out live on
  // while their holders keep them.
  void Forget(std::string_view public_id);

  size_t bytes() const;  // estimated memory of the specs kept
  size_t entries() const;

 private:
  struct Entry {
    std::shared_ptr<const BatchSpec> spec;
    size_t bytes = 0;
    std::list<int64_t>::iterator lru;
    std::string public_id;
  };

  void EraseLocked(std::map<int64_t, Entry>::iterator it) REQUIRES(mu_);

  storage::Store& store_;
  const size_t budget_;
  mutable Mutex mu_;
  std::map<int64_t, Entry> specs_ GUARDED_BY(mu_);
  std::map<std::string, int64_t, std::less<>> by_public_id_ GUARDED_BY(mu_);
  std::list<int64_t> lru_ GUARDED_BY(mu_);  // least recently used first
  size_t bytes_ GUARDED_BY(mu_) = 0;
};

// An estimate of the heap a parsed JSON value holds: each node, each object member (a tree node
// and its key), each array slot and each string's characters.
size_t JsonMemoryBytes(const nlohmann::json& value);
// The same for a whole spec: its template and every datum's items.
size_t SpecMemoryBytes(const BatchSpec& spec);

}  // namespace batchd::daemon
