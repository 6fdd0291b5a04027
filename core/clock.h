// The two clocks batchd reads, as values to inject, so tests hand in a clock they move by hand
// instead of sleeping.
//
// WallClock: unix milliseconds, as stored in the database. Code that stamps or compares stored
// times (created_at, not_before, finished_at, event times, the retention cutoff, rates) takes a
// WallClock rather than calling UnixMillis itself; tests hand in tests/support/manual_clock.h.
// The daemon wires UnixMillis (daemon/serve.cpp); tests/repo/clock_seam_test.sh fails on any
// other call. A WallClock is NOT monotonic (an NTP step moves the system's, a test sets its own),
// so no code may assume two readings are ordered.
//
// SteadyClock: milliseconds on some scale that does not go backwards, for intervals an NTP step
// must not move (core/interval_throttle.h: the chunk engine's checkpoints and live progress, the
// daemon's live progress hook, the event log's coalescing rounds). Production code uses
// SteadyMillis; tests hand in a counter they step by hand.
//
// Either kind may be called from any thread at once.
//
// SQLite stamps the batch.* events of its triggers itself (migrations/0004_events.sql), with
// its own `now`: those times do not come from a WallClock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace batchd {

using WallClock = std::function<int64_t()>;
using SteadyClock = std::function<int64_t()>;

// The system's wall clock (std::chrono::system_clock): the WallClock the daemon runs on.
inline int64_t UnixMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// std::chrono::steady_clock in milliseconds: the SteadyClock the daemon runs on.
inline int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace batchd
