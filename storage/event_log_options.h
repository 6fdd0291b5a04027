// How the event log behaves (storage/event_log.h), apart from the log itself so that the
// store's contract (store.h) can name it without pulling in SQLite.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/live_progress_interval.h"
#include "storage/event_record.h"
#include "storage/session_event_policy.h"

namespace batchd::storage {

struct EventLogOptions {
  // Retention: the log keeps at most this many events, none older than retention_age. A
  // client asking to replay from before that is told to resync.
  int64_t retention_events = 1'000'000;
  std::chrono::seconds retention_age{24 * 3600};
  // How often retention runs (besides Store::TrimEvents). It also runs as soon as the log has
  // grown by a tenth of retention_events (at least 100 events) since the last run, so a burst
  // never leaves the table far above its bound.
  std::chrono::milliseconds retention_interval{10'000};
  // Coalescing: at most one batch.progress per batch, and one session.progress per session,
  // per interval (core/live_progress_interval.h).
  std::chrono::milliseconds progress_interval{kLiveProgressIntervalMs};
  // session.progress events written per interval at most; the other reports wait (only the
  // latest per session is kept).
  size_t session_progress_per_interval = 256;
  SessionEventOptions session_events;
  // Committed events waiting in memory for the listener at most; past it the publisher reads
  // them back from the log when it gets to them (storage/event_publisher.h).
  size_t publisher_queue_events = 16'384;
};

// Receives committed events, oldest first, each exactly once, one call at a time, on the event
// publisher's thread (storage/event_publisher.h). The writer does not wait for it, but a
// listener slower than the events come makes the publisher read them back from the log.
using EventListener = std::function<void(const std::vector<EventRecord>&)>;

}  // namespace batchd::storage
