// One thread that runs callbacks at deadlines, so waiting ops (sleep, retry backoff) hold no
// thread of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "core/mutex.h"

namespace batchd::pipeline {

class TimerService {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = uint64_t;

  TimerService();
  ~TimerService();  // Stop()s
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Runs `callback` on the timer thread once `delay` has passed.
  TimerId Schedule(Clock::duration delay, std::function<void()> callback);

  // True if the timer was removed before it ran (its callback will never run).
  bool Cancel(TimerId id);

  // Drops pending timers without running them and joins the thread. Idempotent.
  void Stop();

 private:
  void Run();

  Mutex mu_;
  CondVar changed_;
  std::multimap<Clock::time_point, TimerId> deadlines_ GUARDED_BY(mu_);
  std::map<TimerId, std::function<void()>> callbacks_ GUARDED_BY(mu_);
  TimerId next_id_ GUARDED_BY(mu_) = 1;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace batchd::pipeline
