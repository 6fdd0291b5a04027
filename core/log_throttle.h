// At most one log line per interval for a failure that repeats: a database that cannot commit
// fails every claim, every second, and a log that says so every second buries everything else
// (issue 10, items 3 and 8). The first occurrence is logged at once; the repeats within the
// interval are only counted, and the next line logged says how many there were.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/mutex.h"

namespace batchd {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(Clock::duration interval = std::chrono::minutes(1)) : interval_(interval) {}

  // Whether to log an occurrence at `now`: yes for the first, and for the first one `interval`
  // or more after the last one logged; then the value is the number of occurrences not logged
  // since that one. nullopt: count it and stay quiet. Safe from any thread.
  std::optional<int64_t> Admit(Clock::time_point now = Clock::now()) {
    MutexLock lock(mu_);
    if (logged_once_ && now - last_logged_ < interval_) {
      ++suppressed_;
      return std::nullopt;
    }
    logged_once_ = true;
    last_logged_ = now;
    const int64_t suppressed = suppressed_;
    suppressed_ = 0;
    return suppressed;
  }

 private:
  const Clock::duration interval_;
  Mutex mu_;
  bool logged_once_ GUARDED_BY(mu_) = false;
  Clock::time_point last_logged_ GUARDED_BY(mu_);
  int64_t suppressed_ GUARDED_BY(mu_) = 0;  // occurrences since last_logged_ not logged
};

// " (N more since the last report)" for a line Admit let through, or "" when none were held back.
inline std::string SuppressedSuffix(int64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " more like it since the last report, not logged)";
}

}  // namespace batchd
