#include "daemon/crash_marker.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace batchd::daemon {
namespace {

constexpr std::array<int, 5> kFatalSignals = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

int g_marker_fd = -1;
struct sigaction g_previous[kFatalSignals.size()];

void OnFatalSignal(int sig) {
  if (g_marker_fd >= 0) {
    char line[32] = "fatal signal ";
    size_t n = std::strlen(line);
    if (sig >= 10) line[n++] = static_cast<char>('0' + sig / 10);
    line[n++] = static_cast<char>('0' + sig % 10);
    line[n++] = '\n';
    ssize_t ignored = ::write(g_marker_fd, line, n);
    (void)ignored;
    ::fsync(g_marker_fd);
  }
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    if (kFatalSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  }
  ::raise(sig);
}

}  // namespace

Result<bool> TakeCrashMarker(const std::filesystem::path& marker) {
  const int fd = ::open(marker.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    return Status::IoError("opening " + marker.string() + ": " + std::strerror(errno));
  }
  char first = 0;
  const ssize_t n = ::read(fd, &first, 1);
  const bool crashed = n == 1;
  const bool emptied = ::ftruncate(fd, 0) == 0 && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (n < 0 || !emptied) {
    return Status::IoError("reading or emptying " + marker.string() + ": " + std::strerror(saved));
  }
  return crashed;
}

Status ArmCrashMarker(const std::filesystem::path& marker) {
  if (g_marker_fd >= 0) return Status::Ok();
  g_marker_fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (g_marker_fd < 0) {
    return Status::IoError("opening " + marker.string() + ": " + std::strerror(errno));
  }
  for (size_t i = 0; i < kFatalSignals.size(); ++i) {
    struct sigaction action {};
    action.sa_handler = OnFatalSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_ONSTACK;
    ::sigaction(kFatalSignals[i], &action, &g_previous[i]);
  }
  return Status::Ok();
}

}  // namespace batchd::daemon
