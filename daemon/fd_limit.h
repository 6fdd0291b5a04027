// The daemon's open-file limit, raised at start so that --max-connections can be reached:
// Debian's default soft limit (1024) is below the default connection limit (2048).
#pragma once

#include <cstdint>

namespace batchd::daemon {

// Raises the soft RLIMIT_NOFILE to at least `wanted` descriptors, up to the hard limit, and
// warns (without failing) when the hard limit is lower: accepts then fail with "too many open
// files" before the connection limit, and the listener waits and retries.
void RaiseOpenFileLimit(uint64_t wanted);

}  // namespace batchd::daemon
