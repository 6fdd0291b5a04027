// The sessions this process claimed and has not yet stored an outcome for, with the node id
// each was claimed under. Why it exists: a node that was partitioned past node_timeout finds
// its row dead and its sessions requeued; the database no longer says which were its (the
// rescue cleared their node_id, another node may run them already), so the keeper asks this
// registry which sessions to stop (PgNodeKeeper, on_remote_stop). Thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/mutex.h"

namespace batchd::storage::pg {

class PgNodeSessions {
 public:
  void Claimed(int64_t node_id, std::span<const int64_t> session_ids) {
    MutexLock lock(mu_);
    for (int64_t id : session_ids) owner_[id] = node_id;
  }
  // Their outcomes are stored (applied or not): nothing more to stop.
  void Finished(std::span<const int64_t> session_ids) {
    MutexLock lock(mu_);
    for (int64_t id : session_ids) owner_.erase(id);
  }
  // Removes and returns the sessions claimed under `node_id`.
  std::vector<int64_t> TakeClaimedUnder(int64_t node_id) {
    MutexLock lock(mu_);
    std::vector<int64_t> out;
    for (auto it = owner_.begin(); it != owner_.end();) {
      if (it->second == node_id) {
        out.push_back(it->first);
        it = owner_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  size_t size() const {
    MutexLock lock(mu_);
    return owner_.size();
  }

 private:
  mutable Mutex mu_;
  std::unordered_map<int64_t, int64_t> owner_ GUARDED_BY(mu_);
};

}  // namespace batchd::storage::pg
