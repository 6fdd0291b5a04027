// Runs tasks after a delay, on a thread of its own: how a write that failed because the
// database could not commit (a full disk) is tried again later, with no caller waiting for it
// and no restart needed. Each task typically queues a write job; the job's own failure asks for
// the next try, with a longer delay (RetryBackoff).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "core/mutex.h"

namespace batchd::storage {

class RetryTimer {
 public:
  RetryTimer();
  ~RetryTimer();  // Stop()s
  RetryTimer(const RetryTimer&) = delete;
  RetryTimer& operator=(const RetryTimer&) = delete;

  // Runs `task` on the timer's thread once `delay` has passed. false (the task is dropped)
  // once Stop() has begun: the caller then gives up instead of waiting.
  bool After(std::chrono::milliseconds delay, std::function<void()> task);

  // Drops the tasks not yet due (never runs them) and joins the thread. Idempotent.
  void Stop();

 private:
  using Clock = std::chrono::steady_clock;
  void Run();

  Mutex mu_;
  CondVar changed_;
  std::multimap<Clock::time_point, std::function<void()>> due_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Delays of successive tries: `first`, doubling, at most `max`; Reset() after a success.
class RetryBackoff {
 public:
  RetryBackoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
      : first_(first), max_(max), next_(first) {}
  std::chrono::milliseconds Next() {
    const std::chrono::milliseconds d = next_;
    next_ = std::min(max_, next_ * 2);
    return d;
  }
  void Reset() { next_ = first_; }

 private:
  const std::chrono::milliseconds first_, max_;
  std::chrono::milliseconds next_;
};

}  // namespace batchd::storage
