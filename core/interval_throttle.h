// Lets an action through at most once per interval. One class for every throttle of that kind:
// the chunk engine's live progress reports and checkpoints (pipeline/engine/), the daemon's
// live progress hook (daemon/live_progress_reporter.h) and the event log's coalescing rounds
// (storage/live_progress_coalescer.h). It knows nothing of what it throttles, and its time comes
// from an injected SteadyClock (core/clock.h), so tests step time by hand.
//
// Rules: the first TryPass passes; after that one passes once `interval_ms` have gone by since the
// last pass (exactly `interval_ms` is enough; 0 lets every call through). A forced pass (the last
// report of a run, which must never be dropped) always passes and restarts the interval. A clock
// that steps back makes the next pass wait until it is again an interval past the last one.
// MillisUntilNextPass says how long that is, for a caller that sleeps until then.
//
// Thread-safe without a lock: callers racing in one interval see exactly one of them pass (the
// winner of a compare-and-swap on the time of the last pass), so it serves callers that hold a
// lock of their own (the chunk pipeline, the coalescer) and callers that hold none alike.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "core/clock.h"

namespace batchd {

class IntervalThrottle {
 public:
  // `interval_ms` >= 0.
  explicit IntervalThrottle(int64_t interval_ms, SteadyClock clock = SteadyMillis);
  IntervalThrottle(const IntervalThrottle&) = delete;
  IntervalThrottle& operator=(const IntervalThrottle&) = delete;

  // Whether the action may run now; when it may, the interval starts again from now. `force`:
  // it may, whatever the time.
  bool TryPass(bool force = false);

  // How long from now until an unforced TryPass would pass: 0 when it would pass now (nothing
  // passed yet, or an interval has gone by since the last pass), else the milliseconds left
  // (more than one interval when the clock stepped back). Reads the clock; changes nothing.
  int64_t MillisUntilNextPass() const;

  int64_t interval_ms() const { return interval_ms_; }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

  const int64_t interval_ms_;
  const SteadyClock clock_;
  std::atomic<int64_t> last_pass_{kNever};  // clock time of the last pass
};

}  // namespace batchd
