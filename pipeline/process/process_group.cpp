#include "pipeline/process/process_group.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

namespace batchd::pipeline {
namespace {

// After the leader is gone, output still in the pipes is read for at most this long: a process
// that left the group (setsid) may hold them open forever.
constexpr auto kDrainAfterExit = std::chrono::seconds(2);
constexpr size_t kReadBytes = 64 << 10;

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Everything the child does between fork and exec: only async-signal-safe calls (the daemon
// is multithreaded, so another thread may have held malloc's lock at the fork). Never returns.
[[noreturn]] void RunChild(int dev_null, int out_w, int err_w, int gate_r, int exec_error_w,
                           const char* executable, char* const* argv, char* const* envp,
                           const char* cwd, const ResourceLimits& limits) {
  // The daemon's handlers (the crash marker's) must not run here, its ignored signals
  // (SIGPIPE) must not stay ignored in the program, and its blocked ones (SIGTERM, which
  // main.cpp blocks for sigwait) must reach it.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setpgid(0, 0);

  // Descriptors 0-4 become stdin, stdout, stderr, the gate and the exec error pipe; first every
  // one moves to 5 or above, so that none is overwritten before it is copied.
  int fds[5] = {dev_null, out_w, err_w, gate_r, exec_error_w};
  for (int& fd : fds) fd = ::fcntl(fd, F_DUPFD, 5);
  for (int i = 0; i < 5; ++i) {
    if (fds[i] < 0 || ::dup2(fds[i], i) < 0) ::_exit(127);
  }
  ::close_range(5, ~0U, 0);
  ::fcntl(4, F_SETFD, FD_CLOEXEC);

  auto limit = [](int resource, uint64_t value) {
    if (value == 0) return true;
    const rlimit r{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    return ::setrlimit(resource, &r) == 0;
  };
  int err = 0;
  if (!limit(RLIMIT_AS, limits.address_space_bytes) || !limit(RLIMIT_CPU, limits.cpu_seconds) ||
      !limit(RLIMIT_NOFILE, limits.open_files)) {
    err = errno;
  }
  if (err == 0 && cwd[0] != '\0' && ::chdir(cwd) != 0) err = errno;

  char go = 0;
  ssize_t n;
  do {
    n = ::read(3, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(127);  // the daemon died before it recorded the group: run nothing
  ::close(3);
  if (err == 0) {
    ::execve(executable, argv, envp);
    err = errno;
  }
  ssize_t w;
  do {
    w = ::write(4, &err, sizeof err);
  } while (w < 0 && errno == EINTR);
  ::_exit(127);
}

// A NULL-terminated array of pointers into `items`, built before the fork.
std::vector<char*> CStrings(const std::vector<std::string>& items) {
  std::vector<char*> out;
  out.reserve(items.size() + 1);
  for (const std::string& s : items) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ProcessExit::Describe() const {
  if (!signaled) return "exited with code " + std::to_string(code);
  const char* name = ::strsignal(signal);
  return "was killed by signal " + std::to_string(signal) + " (" + (name != nullptr ? name : "?") +
         ")";
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  // "PID (COMM) STATE PPID PGRP ...": COMM may hold anything, ')' included, so fields are
  // counted from its last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  ProcStat stat;
  std::string field;
  // Field 3 is the state; field 22 the start time.
  for (int number = 3; number <= 22 && fields >> field; ++number) {
    if (number == 3) stat.state = field.empty() ? '?' : field[0];
    if (number == 5) stat.pgrp = static_cast<pid_t>(std::stol(field));
    if (number == 22) {
      stat.start_ticks = std::stoull(field);
      return stat;
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<ProcessGroup>> ProcessGroup::Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("a program needs an argv[0]");
  if (spec.executable.empty() || spec.executable[0] != '/') {
    return Status::InvalidArgument("the executable must be an absolute path, got \"" +
                                   spec.executable + "\"");
  }
  std::unique_ptr<ProcessGroup> group(new ProcessGroup());
  group->executable_ = spec.executable;
  int out[2] = {-1, -1}, err[2] = {-1, -1}, gate[2] = {-1, -1}, exec_error[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {out, err, gate, exec_error}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(gate, O_CLOEXEC) != 0 || ::pipe2(exec_error, O_CLOEXEC) != 0) {
    const int e = errno;
    close_all();
    return Status::IoError(ErrnoText("creating a program's pipes", e));
  }
  int dev_null = -1;  // the child's stdin: /dev/null or a pipe's read end
  if (spec.stdin_pipe) {
    int in[2] = {-1, -1};
    if (::pipe2(in, O_CLOEXEC) == 0) {
      dev_null = in[0];
      group->stdin_fd_ = in[1];
      // A larger pipe (1 MiB when allowed, else the default stays) moves a chunk in fewer
      // writes and wake-ups.
      (void)::fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
    }
  } else {
    dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  group->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (dev_null < 0 || group->wake_fd_ < 0) {
    const int e = errno;
    close_all();
    CloseFd(dev_null);
    return Status::IoError(ErrnoText("opening /dev/null for a program", e));
  }
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    close_all();
    CloseFd(dev_null);
    return Status::IoError(ErrnoText("fork", e));
  }
  if (pid == 0) {
    RunChild(dev_null, out[1], err[1], gate[0], exec_error[1], spec.executable.c_str(), argv.data(),
             envp.data(), spec.cwd.c_str(), spec.limits);
  }
  // Also here, so that the group exists before anyone signals it, whichever side runs first.
  ::setpgid(pid, pid);
  group->pid_ = pid;
  for (int* fd : {&dev_null, &out[1], &err[1], &gate[0], &exec_error[1]}) CloseFd(*fd);
  group->out_fd_ = out[0];
  group->err_fd_ = err[0];
  group->gate_fd_ = gate[1];
  group->exec_error_fd_ = exec_error[0];
  ::fcntl(group->out_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(group->err_fd_, F_SETFL, O_NONBLOCK);
  group->pid_fd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (group->pid_fd_ < 0) {
    const int e = errno;
    return Status::IoError(ErrnoText("pidfd_open", e));  // the destructor kills and reaps it
  }
  if (std::optional<ProcStat> stat = ReadProcStat(pid)) group->start_ticks_ = stat->start_ticks;
  return group;
}

Status ProcessGroup::Release() {
  const char go = 1;
  ssize_t n;
  do {
    n = ::write(gate_fd_, &go, 1);
  } while (n < 0 && errno == EINTR);
  CloseFd(gate_fd_);
  if (n != 1) return Status::IoError(ErrnoText("releasing a program", errno));
  int child_errno = 0;
  size_t got = 0;
  while (got < sizeof child_errno) {
    const ssize_t r = ::read(exec_error_fd_, reinterpret_cast<char*>(&child_errno) + got,
                             sizeof child_errno - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  CloseFd(exec_error_fd_);
  if (got == 0) return Status::Ok();  // closed on exec
  const std::string why = "cannot run " + executable_ + ": " + std::strerror(child_errno);
  return child_errno == ENOENT ? Status::NotFound(why) : Status::FailedPrecondition(why);
}

void ProcessGroup::Terminate() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

Supervised ProcessGroup::Supervise(const SuperviseOptions& options) {
  using Clock = std::chrono::steady_clock;
  Supervised result;
  const Clock::time_point start = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (options.timeout) deadline = start + *options.timeout;
  std::optional<Clock::time_point> kill_at;    // SIGTERM was sent: SIGKILL then
  std::optional<Clock::time_point> drain_end;  // the leader is reaped: stop reading then
  bool term_sent = false;
  auto terminate = [&] {
    if (term_sent || reaped_) return;
    term_sent = true;
    ::kill(-pid_, SIGTERM);
    kill_at = Clock::now() + options.kill_grace;
  };
  std::vector<char> buffer(kReadBytes);
  while (!reaped_ || out_fd_ >= 0 || err_fd_ >= 0) {
    const Clock::time_point now = Clock::now();
    if (deadline && now >= *deadline && !term_sent && !reaped_) {
      result.timed_out = true;
      terminate();
    }
    if (kill_at && now >= *kill_at && !reaped_) {
      ::kill(-pid_, SIGKILL);
      kill_at.reset();
    }
    if (drain_end && now >= *drain_end) {
      CloseFd(out_fd_);
      CloseFd(err_fd_);
      break;
    }
    // The next time something is due: the timeout (until the group is terminated), the
    // SIGKILL (until the leader is reaped), the end of the drain.
    std::optional<Clock::time_point> next;
    for (const auto& t : {term_sent || reaped_ ? std::nullopt : deadline,
                          reaped_ ? std::nullopt : kill_at, drain_end}) {
      if (t && (!next || *t < *next)) next = t;
    }
    int wait_ms = -1;
    if (next) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
    }
    pollfd fds[4];
    int n = 0;
    auto add = [&](int fd) {
      if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
    };
    add(out_fd_);
    add(err_fd_);
    if (!reaped_) add(pid_fd_);
    if (!reaped_) add(wake_fd_);
    if (::poll(fds, static_cast<nfds_t>(n), wait_ms) < 0 && errno != EINTR) {
      // Cannot happen with valid descriptors; if it does, the program must not be left behind
      // nor reported as a success.
      if (!reaped_) result.exit = {.signaled = true, .signal = SIGKILL};
      KillAndReap();
      CloseFd(out_fd_);
      CloseFd(err_fd_);
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      if (fd == wake_fd_) {
        uint64_t count = 0;
        (void)!::read(wake_fd_, &count, sizeof count);
        result.terminated = true;
        terminate();
      } else if (fd == pid_fd_) {
        siginfo_t info{};
        // WNOWAIT: the leader stays a zombie, so its pid (the group id) stays taken while the
        // rest of the group is killed.
        if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) == 0) {
          result.exit.signaled = info.si_code != CLD_EXITED;
          (result.exit.signaled ? result.exit.signal : result.exit.code) = info.si_status;
        }
        ::kill(-pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
        drain_end = Clock::now() + kDrainAfterExit;
      } else {
        const ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got > 0) {
          const OutputSink& sink = fd == out_fd_ ? options.out : options.err;
          if (sink) sink(std::string_view(buffer.data(), static_cast<size_t>(got)));
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          CloseFd(fd == out_fd_ ? out_fd_ : err_fd_);
        }
      }
    }
  }
  return result;
}

void ProcessGroup::KillAndReap() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);  // in case it had not made itself a group leader yet
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
}

ProcessGroup::~ProcessGroup() {
  CloseFd(gate_fd_);  // a child still at the gate exits
  KillAndReap();
  for (int* fd : {&exec_error_fd_, &out_fd_, &err_fd_, &pid_fd_, &wake_fd_, &stdin_fd_}) {
    CloseFd(*fd);
  }
}

}  // namespace batchd::pipeline
