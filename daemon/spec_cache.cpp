#include "daemon/spec_cache.h"

#include <future>

namespace batchd::daemon {

Result<std::shared_ptr<const BatchSpec>> SpecCache::Get(int64_t batch_id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = specs_.find(batch_id); it != specs_.end()) return it->second;
  }
  std::promise<Result<std::string>> fetched;
  store_.GetBatchSpec(batch_id, [&fetched](Result<std::string> r) { fetched.set_value(r); });
  Result<std::string> text = fetched.get_future().get();
  if (!text.ok()) return text.status();
  Result<BatchSpec> spec = ParseBatchSpec(*text, BatchSpecLimits{.max_sessions = UINT64_MAX});
  if (!spec.ok()) {
    return Status::Internal("stored spec of batch " + std::to_string(batch_id) +
                            " does not parse: " + spec.status().message());
  }
  auto shared = std::make_shared<const BatchSpec>(std::move(*spec));
  std::lock_guard lock(mu_);
  if (specs_.emplace(batch_id, shared).second) {
    order_.push_back(batch_id);
    if (order_.size() > capacity_) {
      specs_.erase(order_.front());
      order_.pop_front();
    }
  }
  return std::shared_ptr<const BatchSpec>(shared);
}

}  // namespace batchd::daemon
