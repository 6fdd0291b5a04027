// Stopping a server a test started as a child process (nginx, s3rver): SIGTERM, then wait for
// it up to `grace`, then SIGKILL. The child is always reaped, so a test that stops a server
// leaves no zombie and no process behind whichever way this returns.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string_view>

#include "core/status.h"

namespace batchd::testing {

// `pid` <= 0 means nothing is running (Ok). On return `pid` is -1. Ok if the child exited
// within `grace` of SIGTERM (or was not ours to wait for any more); IoError naming `name` if
// it had to be SIGKILLed.
Status StopChild(pid_t& pid, std::chrono::milliseconds grace, std::string_view name);

}  // namespace batchd::testing
