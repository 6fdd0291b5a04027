// Time for intervals (core/interval_throttle.h: the chunk engine's checkpoints and live progress,
// the daemon's live progress hook, the event log's coalescing rounds), as a value to inject: a
// MillisClock returns milliseconds on some scale that does not go backwards. Production code uses
// SteadyMillis; tests hand in a counter they step by hand, so timing rules are tested without
// sleeping. A clock may be called from several threads at once.
//
// (core/clock.h's UnixMillis is wall-clock time for the database; an interval wants a clock that
// an NTP step cannot move.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace batchd {

using MillisClock = std::function<int64_t()>;

// std::chrono::steady_clock in milliseconds.
inline int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace batchd
