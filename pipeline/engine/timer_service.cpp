#include "pipeline/engine/timer_service.h"

namespace batchd::pipeline {

TimerService::TimerService() : thread_([this] { Run(); }) {}

TimerService::~TimerService() { Stop(); }

TimerService::TimerId TimerService::Schedule(Clock::duration delay,
                                             std::function<void()> callback) {
  MutexLock lock(mu_);
  const TimerId id = next_id_++;
  deadlines_.emplace(Clock::now() + delay, id);
  callbacks_.emplace(id, std::move(callback));
  changed_.Signal();
  return id;
}

bool TimerService::Cancel(TimerId id) {
  MutexLock lock(mu_);
  // The deadline entry stays; Run skips ids whose callback is gone.
  return callbacks_.erase(id) > 0;
}

void TimerService::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    callbacks_.clear();
    deadlines_.clear();
  }
  changed_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void TimerService::Run() {
  MutexLock lock(mu_);
  while (!stopping_) {
    if (deadlines_.empty()) {
      changed_.Wait(mu_);
      continue;
    }
    auto first = deadlines_.begin();
    if (first->first > Clock::now()) {
      // A copy: WaitUntil reads its deadline again on waking, and Stop (or an earlier timer)
      // may have erased the map entry by then.
      const Clock::time_point deadline = first->first;
      changed_.WaitUntil(mu_, deadline);
      continue;
    }
    const TimerId id = first->second;
    deadlines_.erase(first);
    auto cb = callbacks_.find(id);
    if (cb == callbacks_.end()) continue;  // canceled
    std::function<void()> run = std::move(cb->second);
    callbacks_.erase(cb);
    lock.Unlock();
    run();
    lock.Lock();
  }
}

}  // namespace batchd::pipeline
