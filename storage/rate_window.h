// The rate of a growing counter over a sliding time window, from samples taken whenever it is
// observed: what batch.progress reports as sessions/s, chunks/s and bytes/s.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace batchd::storage {

class RateWindow {
 public:
  explicit RateWindow(int64_t window_ms = 5000) : window_ms_(window_ms) {}

  // Records `value` at `now_ms` and returns the rate per second since the oldest sample still
  // in the window; nullopt until two samples at least 1 ms apart exist. A value lower than the
  // last one (a retry sent sessions back) starts the window again.
  std::optional<double> Observe(int64_t value, int64_t now_ms);

 private:
  const int64_t window_ms_;
  std::deque<std::pair<int64_t, int64_t>> samples_;  // (time, value), oldest first
};

}  // namespace batchd::storage
