// A WallClock (core/clock.h) that moves only when the test says so: timestamps, retention ages,
// retry delays and rate windows are then tested by setting the time instead of sleeping, and
// what a test sees no longer depends on how loaded the machine is.
//
// Thread-safe: the code under test reads it on its own threads while the test sets it. It
// starts at the system's time by default, so the times it gives line up with those SQLite
// stamps itself (the batch.* event triggers); after that only Set and Advance move it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/clock.h"

namespace batchd::testing {

class ManualClock {
 public:
  ManualClock() : now_ms_(UnixMillis()) {}
  explicit ManualClock(int64_t start_ms) : now_ms_(start_ms) {}
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  int64_t Now() const { return now_ms_.load(); }
  void Set(int64_t unix_ms) { now_ms_.store(unix_ms); }
  // `by` may be negative: a wall clock may step back.
  void Advance(std::chrono::milliseconds by) { now_ms_.fetch_add(by.count()); }

  // The clock to inject; it reads this ManualClock, which must outlive every user of it.
  WallClock AsWallClock() const {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace batchd::testing
