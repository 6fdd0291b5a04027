#include "daemon/spec_cache.h"

#include <future>
#include <vector>

namespace batchd::daemon {
namespace {

// What one std::map node costs beside its key and value (colour, three pointers, allocator
// rounding), and a std::string's own heap block beyond the short-string buffer.
constexpr size_t kMapNodeOverhead = 48;
constexpr size_t kShortString = 15;

size_t StringBytes(const std::string& s) { return s.size() > kShortString ? s.capacity() + 1 : 0; }

}  // namespace

size_t JsonMemoryBytes(const nlohmann::json& root) {
  size_t total = sizeof(nlohmann::json);
  std::vector<const nlohmann::json*> todo{&root};  // no recursion: specs may nest deeply
  while (!todo.empty()) {
    const nlohmann::json* v = todo.back();
    todo.pop_back();
    if (v->is_object()) {
      total += sizeof(nlohmann::json::object_t);
      for (const auto& [key, member] : v->items()) {
        total += kMapNodeOverhead + sizeof(std::string) + StringBytes(key) + sizeof(nlohmann::json);
        todo.push_back(&member);
      }
    } else if (v->is_array()) {
      total += sizeof(nlohmann::json::array_t) +
               v->get_ref<const nlohmann::json::array_t&>().capacity() * sizeof(nlohmann::json);
      for (const auto& item : *v) todo.push_back(&item);
    } else if (v->is_string()) {
      total += sizeof(std::string) + StringBytes(v->get_ref<const std::string&>());
    }
  }
  return total;
}

size_t SpecMemoryBytes(const BatchSpec& spec) {
  size_t total = sizeof(BatchSpec) + spec.name.capacity() + JsonMemoryBytes(spec.job_template);
  for (const DataGroup& group : spec.data) {
    for (const Datum& datum : group) {
      total += sizeof(Datum) + datum.field.capacity() + JsonMemoryBytes(datum.items);
    }
  }
  return total;
}

Result<std::shared_ptr<const BatchSpec>> SpecCache::Get(int64_t batch_id,
                                                        std::string_view public_id) {
  {
    MutexLock lock(mu_);
    if (auto it = specs_.find(batch_id); it != specs_.end()) {
      lru_.splice(lru_.end(), lru_, it->second.lru);
      return it->second.spec;
    }
  }
  std::promise<Result<std::string>> fetched;
  store_.GetBatchSpec(batch_id, [&fetched](Result<std::string> r) { fetched.set_value(r); });
  Result<std::string> text = fetched.get_future().get();
  if (!text.ok()) return text.status();
  Result<BatchSpec> spec = ParseBatchSpec(*text, BatchSpecLimits::Stored());
  if (!spec.ok()) {
    return Status::Internal("stored spec of batch " + std::to_string(batch_id) +
                            " does not parse: " + spec.status().message());
  }
  auto shared = std::make_shared<const BatchSpec>(std::move(*spec));
  const size_t size = SpecMemoryBytes(*shared);
  MutexLock lock(mu_);
  if (size > budget_ || specs_.count(batch_id)) return std::shared_ptr<const BatchSpec>(shared);
  while (!lru_.empty() && bytes_ + size > budget_) EraseLocked(specs_.find(lru_.front()));
  lru_.push_back(batch_id);
  specs_.emplace(batch_id, Entry{shared, size, std::prev(lru_.end()), std::string(public_id)});
  by_public_id_[std::string(public_id)] = batch_id;
  bytes_ += size;
  return std::shared_ptr<const BatchSpec>(shared);
}

void SpecCache::Forget(std::string_view public_id) {
  std::shared_ptr<const BatchSpec> released;  // freed outside the lock
  MutexLock lock(mu_);
  auto id = by_public_id_.find(public_id);
  if (id == by_public_id_.end()) return;
  auto it = specs_.find(id->second);
  if (it != specs_.end()) {
    released = it->second.spec;
    EraseLocked(it);
  }
}

void SpecCache::EraseLocked(std::map<int64_t, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  if (auto id = by_public_id_.find(it->second.public_id);
      id != by_public_id_.end() && id->second == it->first) {
    by_public_id_.erase(id);
  }
  specs_.erase(it);
}

size_t SpecCache::bytes() const {
  MutexLock lock(mu_);
  return bytes_;
}

size_t SpecCache::entries() const {
  MutexLock lock(mu_);
  return specs_.size();
}

}  // namespace batchd::daemon
