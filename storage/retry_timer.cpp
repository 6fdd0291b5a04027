#include "storage/retry_timer.h"

namespace batchd::storage {

RetryTimer::RetryTimer() : thread_([this] { Run(); }) {}

RetryTimer::~RetryTimer() { Stop(); }

bool RetryTimer::After(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    MutexLock lock(mu_);
    if (stopping_) return false;
    due_.emplace(Clock::now() + delay, std::move(task));
  }
  changed_.Signal();
  return true;
}

void RetryTimer::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  changed_.Signal();
  if (thread_.joinable()) thread_.join();
  std::multimap<Clock::time_point, std::function<void()>> dropped;
  {
    MutexLock lock(mu_);
    dropped.swap(due_);
  }
  // Destroyed outside the lock: a task's captures may be anything.
}

void RetryTimer::Run() {
  MutexLock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      changed_.Wait(mu_);
      continue;
    }
    if (Clock::now() < due_.begin()->first) {
      changed_.WaitUntil(mu_, due_.begin()->first);
      continue;
    }
    std::function<void()> task = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.Unlock();
    task();  // may call After()
    task = nullptr;
    lock.Lock();
  }
}

}  // namespace batchd::storage
