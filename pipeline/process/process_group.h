// One user program run by the `command` op (docs/command.md), in a process group of its own so
// that a cancel, a timeout or a daemon restart reaches every process it started.
//
// Life of a group: Spawn forks a child that makes itself a group leader, arranges its
// descriptors (stdin /dev/null, stdout and stderr pipes, nothing else open) and resource
// limits, and waits at a gate; the caller records pgid() and start_ticks() durably
// (process_records.h); Release opens the gate and the child execs the program; Supervise drains
// the pipes and waits for it on the caller's thread. If the daemon dies before Release, the
// gate's pipe closes and the child exits without running anything, so an unrecorded program
// never runs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchd::pipeline {

// Set in the child with setrlimit (soft and hard) before exec; 0 leaves the daemon's own.
struct ResourceLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU: SIGXCPU at the limit, SIGKILL a second later
  uint64_t open_files = 0;           // RLIMIT_NOFILE
};

struct ProcessSpec {
  std::string executable;         // an absolute path, exec'd as is: no PATH search
  std::vector<std::string> argv;  // argv[0] as the program sees it; must not be empty
  std::vector<std::string> env;   // "NAME=VALUE" items: the program's whole environment
  std::string cwd;                // empty: the daemon's working directory
  ResourceLimits limits;
  // The program's stdin is the read end of a pipe whose write end TakeStdin() hands over (the
  // command op's chunk stream), instead of /dev/null.
  bool stdin_pipe = false;
};

// How the group's leader ended.
struct ProcessExit {
  bool signaled = false;
  int code = 0;    // its exit status, when !signaled
  int signal = 0;  // the signal that killed it, when signaled
  // "exited with code 3", "was killed by signal 9 (Killed)".
  std::string Describe() const;
};

// Output as it arrives, on the thread running Supervise. May be empty (the bytes are dropped).
using OutputSink = std::function<void(std::string_view bytes)>;

struct SuperviseOptions {
  // After this long the group is terminated as by Terminate() and the run counts as timed out.
  std::optional<std::chrono::milliseconds> timeout;
  // How long a terminated group has between SIGTERM and SIGKILL.
  std::chrono::milliseconds kill_grace{5000};
  OutputSink out;
  OutputSink err;
};

struct Supervised {
  ProcessExit exit;
  bool timed_out = false;   // SuperviseOptions::timeout ran out first
  bool terminated = false;  // Terminate() was called before the leader exited
};

class ProcessGroup {
 public:
  // Forks the child and leaves it at the gate. kInvalidArgument for an empty argv or a relative
  // executable; kIoError (with errno's text) if a pipe, /dev/null or fork fails.
  static Result<std::unique_ptr<ProcessGroup>> Spawn(const ProcessSpec& spec);
  // Kills the group (SIGKILL) and reaps the leader unless Supervise already did.
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // The leader's pid, which is also the group's id.
  pid_t pgid() const { return pid_; }
  // The leader's start time in clock ticks after boot (field 22 of /proc/PID/stat): pids are
  // reused, (pgid, start_ticks) on one boot are not. 0 if /proc could not be read.
  uint64_t start_ticks() const { return start_ticks_; }

  // Opens the gate and waits until the child has exec'd the program. kNotFound or
  // kFailedPrecondition naming the executable and errno's text if execve failed (the child has
  // then exited; Supervise still reaps it). Call once.
  Status Release();

  // Blocks until the leader has exited and been reaped and both pipes are closed, passing
  // output to the sinks. Once the leader exits, whatever is left in its group is SIGKILLed
  // (before the leader is reaped, so the group id cannot have been reused): a program's
  // background processes do not outlive it. Call once, after Release (or after it failed).
  Supervised Supervise(const SuperviseOptions& options);

  // The write end of the program's stdin (ProcessSpec::stdin_pipe; blocking, close-on-exec):
  // the caller owns it from now on and closes it for EOF. -1 without stdin_pipe or when taken.
  int TakeStdin() {
    const int fd = stdin_fd_;
    stdin_fd_ = -1;
    return fd;
  }

  // Any thread, any time (also before Supervise): the group gets SIGTERM now (from the
  // Supervise thread, which alone may signal it while the leader is unreaped) and SIGKILL
  // after kill_grace. Later calls do nothing.
  void Terminate();

 private:
  ProcessGroup() = default;
  void KillAndReap();

  pid_t pid_ = -1;
  uint64_t start_ticks_ = 0;
  int gate_fd_ = -1;        // write end: one byte lets the child exec
  int exec_error_fd_ = -1;  // read end: errno if execve failed, EOF once it succeeded
  int out_fd_ = -1;         // the program's stdout (non-blocking)
  int err_fd_ = -1;         // the program's stderr (non-blocking)
  int pid_fd_ = -1;         // pidfd_open(pid_): readable once the leader has exited
  int wake_fd_ = -1;        // eventfd: Terminate() was called
  int stdin_fd_ = -1;       // write end of the program's stdin, until TakeStdin()
  bool reaped_ = false;
  std::string executable_;
};

// Reads field 22 (starttime) and field 5 (pgrp) of /proc/PID/stat. nullopt if the process does
// not exist (or /proc cannot be read).
struct ProcStat {
  char state = '?';  // R, S, D, Z, ...
  pid_t pgrp = 0;
  uint64_t start_ticks = 0;
};
std::optional<ProcStat> ReadProcStat(pid_t pid);

}  // namespace batchd::pipeline
