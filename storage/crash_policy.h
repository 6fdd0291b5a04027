// What recovery does with the sessions a crash left in progress; a plain value, so the store's
// options (store.h) carry it without SQLite.
#pragma once

#include <cstdint>

namespace batchd::storage {

// How recovery treats the sessions a crash left in progress (daemon/crash_marker.h).
struct CrashPolicy {
  // The previous run died of a fatal signal of its own (an abort, a segfault), not of a kill:
  // every session then in progress is a suspect and its session.fatal_crashes goes up by one.
  bool previous_run_crashed = false;
  // A suspect whose count reaches this ends in a permanent error instead of being requeued.
  int64_t quarantine_after = 3;
};

}  // namespace batchd::storage
