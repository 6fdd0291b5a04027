// Lets an action through at most once per interval: a live progress report every 100 ms while
// chunks are being done, however many chunks finish in between. Generic on purpose (the daemon
// has the same throttle for its progress hook and the event log): it knows nothing of what it
// throttles, and its time comes from an injected MillisClock, so tests step time by hand.
//
// Rules: the first TryPass passes; after that one passes once `interval_ms` have gone by since the
// last pass (exactly `interval_ms` is enough; 0 lets every call through). A forced pass (the last
// report of a run, which must never be dropped) always passes and restarts the interval. A clock
// that steps back makes the next pass wait until it is again an interval past the last one.
//
// Thread-safe without a lock: callers racing in one interval see exactly one of them pass (the
// winner of a compare-and-swap on the time of the last pass), so it serves callers that hold a
// lock of their own (the chunk pipeline) and callers that hold none alike.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "pipeline/engine/millis_clock.h"

namespace batchd::pipeline {

class IntervalThrottle {
 public:
  // `interval_ms` >= 0.
  explicit IntervalThrottle(int64_t interval_ms, MillisClock clock = SteadyMillis);
  IntervalThrottle(const IntervalThrottle&) = delete;
  IntervalThrottle& operator=(const IntervalThrottle&) = delete;

  // Whether the action may run now; when it may, the interval starts again from now. `force`:
  // it may, whatever the time.
  bool TryPass(bool force = false);

  int64_t interval_ms() const { return interval_ms_; }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

  const int64_t interval_ms_;
  const MillisClock clock_;
  std::atomic<int64_t> last_pass_{kNever};  // clock time of the last pass
};

}  // namespace batchd::pipeline
