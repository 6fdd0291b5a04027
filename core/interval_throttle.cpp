#include "core/interval_throttle.h"

#include <cassert>
#include <utility>

namespace batchd {

IntervalThrottle::IntervalThrottle(int64_t interval_ms, SteadyClock clock)
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

int64_t IntervalThrottle::MillisUntilNextPass() const {
  const int64_t last = last_pass_.load(std::memory_order_relaxed);
  if (last == kNever) return 0;
  const int64_t elapsed = clock_() - last;  // TryPass's rule: passes once elapsed >= interval
  return elapsed >= interval_ms_ ? 0 : interval_ms_ - elapsed;
}

}  // namespace batchd
