// Wall-clock time as stored in the database (unix milliseconds), and the seam that lets tests
// set it.
//
// Code that stamps or compares stored times (created_at, not_before, finished_at, event times,
// the retention cutoff, rates) takes a WallClock rather than calling UnixMillis itself, so a test
// hands in a tests/support/manual_clock.h and moves time by hand instead of sleeping. The daemon
// wires UnixMillis (daemon/serve.cpp); tests/repo/clock_seam_test.sh fails on any other call.
//
// Contract of a WallClock: returns unix milliseconds; may be called from any thread at once;
// is NOT monotonic (an NTP step moves the system's, a test sets its own), so no code may assume
// two readings are ordered. Intervals that must not move with the wall clock (throttles,
// timeouts) use a steady clock instead (MillisClock).
//
// SQLite stamps the batch.* events of its triggers itself (migrations/0004_events.sql), with
// its own `now`: those times do not come from a WallClock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace batchd {

using WallClock = std::function<int64_t()>;

// The system's wall clock (std::chrono::system_clock): the WallClock the daemon runs on.
inline int64_t UnixMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace batchd
