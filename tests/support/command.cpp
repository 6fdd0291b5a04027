#include "tests/support/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace batchd::testing {
namespace {

// Reads what is available on `fd` into `out`; false at end of file.
bool Drain(int fd, std::string& out) {
  char buf[65536];
  const ssize_t n = read(fd, buf, sizeof(buf));
  if (n > 0) out.append(buf, static_cast<size_t>(n));
  return n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN));
}

}  // namespace

Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout) {
  if (argv.empty()) return Status::InvalidArgument("no command");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::IoError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandOutput result;
  bool out_open = true, err_open = true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP)))
      out_open = Drain(out_pipe[0], result.out);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP)))
      err_open = Drain(err_pipe[0], result.err);
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) {
    return Status::IoError(argv[0] + " did not finish within " + std::to_string(timeout.count()) +
                           " ms; stderr: " + result.err);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (result.exit_code == 127) {
    return Status::IoError("could not run " + argv[0] + ": " + result.err);
  }
  return result;
}

Result<nlohmann::json> RunJsonCommand(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(CommandOutput r, RunCommand(argv, timeout));
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  if (r.exit_code != 0) {
    return Status::IoError(command + " exited with " + std::to_string(r.exit_code) + ": " + r.err);
  }
  std::string last = r.out;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  if (const size_t nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
  nlohmann::json j = nlohmann::json::parse(last, nullptr, false);
  if (j.is_discarded()) {
    return Status::IoError(command + " did not end with a JSON line: " + r.out + r.err);
  }
  return j;
}

std::filesystem::path SharedAnchorsDir() {
#ifdef BATCHD_SHARED_DIR
  return std::filesystem::path(BATCHD_SHARED_DIR) / "anchors";
#else
  return std::filesystem::path(BATCHD_SOURCE_DIR) / ".." / "shared" / "anchors";
#endif
}

std::filesystem::path E2eScriptsDir() {
  return std::filesystem::path(BATCHD_SOURCE_DIR) / "tests" / "e2e";
}

}  // namespace batchd::testing
