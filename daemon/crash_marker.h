// Telling a crash of the daemon's own making from a kill. A session that crashes the daemon
// (an abort, a segfault) would crash it again at every restart once recovery requeues it; a
// SIGKILL, a power cut or a clean stop are not the running sessions' fault, and batchd promises
// to resume those exactly. So the daemon arms handlers for the fatal signals that write a line
// to <data dir>/batchd.crash before the process dies, and the next start reads (and clears) it:
// only then are the sessions left in progress counted as suspects (storage/recovery.h).
// SIGKILL cannot be caught, so an out-of-memory kill is not counted (docs/scheduler.md).
#pragma once

#include <filesystem>

#include "core/status.h"

namespace batchd::daemon {

// Whether the previous run ended in a fatal signal it caught (the marker file holds a line),
// then empties the file. A missing file is a clean history (false). kIoError if it cannot be
// read or emptied. Call with the data directory locked, before the store opens.
Result<bool> TakeCrashMarker(const std::filesystem::path& marker);

// Opens the marker for the handlers and installs them for SIGSEGV, SIGBUS, SIGFPE, SIGILL and
// SIGABRT (std::terminate, an uncaught std::bad_alloc among them, aborts). A handler writes
// "fatal signal N" with async-signal-safe calls only, puts back the handler that was there
// before (a sanitizer's, or the default) and raises the signal again, so the process still dies
// of it and a sanitizer still reports it. Once per process.
Status ArmCrashMarker(const std::filesystem::path& marker);

}  // namespace batchd::daemon
