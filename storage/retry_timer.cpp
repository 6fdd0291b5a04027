#include "storage/retry_timer.h"

namespace batchd::storage {

RetryTimer::RetryTimer() : thread_([this] { Run(); }) {}

RetryTimer::~RetryTimer() { Stop(); }

bool RetryTimer::After(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    due_.emplace(Clock::now() + delay, std::move(task));
  }
  changed_.notify_one();
  return true;
}

void RetryTimer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::multimap<Clock::time_point, std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(due_);
  }
  // Destroyed outside the lock: a task's captures may be anything.
}

void RetryTimer::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    if (Clock::now() < due_.begin()->first) {
      changed_.wait_until(lock, due_.begin()->first);
      continue;
    }
    std::function<void()> task = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.unlock();
    task();  // may call After()
    task = nullptr;
    lock.lock();
  }
}

}  // namespace batchd::storage
