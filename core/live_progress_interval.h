// How often a running session's live progress moves on: the chunk engine reports it at most this
// often, the daemon's hook forwards it at most this often, and the event log writes at most one
// session.progress per session, and one batch.progress per batch, per interval (docs/api.md,
// "Events"). One constant, so the three throttles (core/interval_throttle.h) cannot drift apart.
#pragma once

#include <cstdint>

namespace batchd {

inline constexpr int64_t kLiveProgressIntervalMs = 100;

}  // namespace batchd
