// Threads that supervise users' programs (the command op): one each, started for a run and
// joined once finished (at the next start or at destruction), so no thread outlives its owner.
#pragma once

#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "core/mutex.h"

namespace batchd::pipeline {

// The supervising threads of running programs: one each, joined once finished (at the next
// start or at destruction), so no thread outlives the op.
class RunThreads {
 public:
  ~RunThreads() {
    MutexLock lock(mu_);
    while (!running_.empty()) changed_.Wait(mu_);
    std::vector<std::thread> finished = std::move(finished_);
    lock.Unlock();
    for (std::thread& t : finished) t.join();
  }

  void Start(std::function<void()> body) {
    std::vector<std::thread> finished;
    MutexLock lock(mu_);
    finished.swap(finished_);
    const uint64_t id = next_id_++;
    running_[id] = std::thread([this, id, body = std::move(body)] {
      body();
      MutexLock lock(mu_);
      finished_.push_back(std::move(running_[id]));
      running_.erase(id);
      changed_.SignalAll();
    });
    lock.Unlock();
    for (std::thread& t : finished) t.join();
  }

 private:
  Mutex mu_;
  CondVar changed_;
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::thread> running_ GUARDED_BY(mu_);
  std::vector<std::thread> finished_ GUARDED_BY(mu_);
};

}  // namespace batchd::pipeline
