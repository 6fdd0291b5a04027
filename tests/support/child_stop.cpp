#include "tests/support/child_stop.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <thread>

namespace batchd::testing {

Status StopChild(pid_t& pid, std::chrono::milliseconds grace, std::string_view name) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kPollInterval = std::chrono::milliseconds(10);
  if (pid <= 0) return Status::Ok();
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + grace;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      pid = -1;
      return Status::Ok();
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  pid = -1;
  return Status::IoError(std::string(name) + " did not stop within " +
                         std::to_string(grace.count()) + " ms; SIGKILLed");
}

}  // namespace batchd::testing
