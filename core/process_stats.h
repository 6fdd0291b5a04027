// The daemon process as the kernel sees it (/proc/self), for the standard process_* metrics
// and the load benchmark's RSS figures. Linux only, like the rest of batchd.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace batchd {

struct ProcessStats {
  int64_t resident_bytes = 0;  // RSS now
  int64_t virtual_bytes = 0;
  double cpu_seconds = 0;   // user + system, every thread, since start
  double start_time_s = 0;  // unix seconds
  int64_t open_fds = 0;
  int64_t threads = 0;
};

// kIoError if /proc/self cannot be read.
Result<ProcessStats> ReadProcessStats();

}  // namespace batchd
