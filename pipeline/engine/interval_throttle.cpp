#include "pipeline/engine/interval_throttle.h"

#include <cassert>
#include <utility>

namespace batchd::pipeline {

IntervalThrottle::IntervalThrottle(int64_t interval_ms, MillisClock clock)
    : interval_ms_(interval_ms), clock_(std::move(clock)) {
  assert(interval_ms >= 0);
}

bool IntervalThrottle::TryPass(bool force) {
  const int64_t now = clock_();
  int64_t last = last_pass_.load(std::memory_order_relaxed);
  // Relaxed: the throttle orders no other data; callers that share data have their own lock.
  for (;;) {
    if (!force && last != kNever && now - last < interval_ms_) return false;
    if (last_pass_.compare_exchange_weak(last, now, std::memory_order_relaxed)) return true;
  }
}

}  // namespace batchd::pipeline
