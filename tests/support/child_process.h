// A server a test runs as a child process (nginx, s3rver): started with its output in a log
// file and killed if the test process dies; stopped with SIGTERM, then SIGKILL after a grace
// period. The child is always reaped, so a test that stops a server leaves no zombie and no
// process behind whichever way StopChild returns.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchd::testing {

// Runs args[0] (an absolute path) with `args`, stdout and stderr appended to `log_path`, and
// SIGKILL as its parent-death signal. Returns its pid, or IoError if the log can't be opened
// or fork fails (an exec failure shows as exit status 127).
Result<pid_t> SpawnChild(std::vector<std::string> args, const std::string& log_path);

// `pid` <= 0 means nothing is running (Ok). On return `pid` is -1. Ok if the child exited
// within `grace` of SIGTERM (or was not ours to wait for any more); IoError naming `name` if
// it had to be SIGKILLed.
Status StopChild(pid_t& pid, std::chrono::milliseconds grace, std::string_view name);

}  // namespace batchd::testing
