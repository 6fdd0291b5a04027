#include "tests/support/daemon_process.h"

#include "tests/pg/pg_test_db.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

namespace batchd::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

ExitStatus FromWaitStatus(int status) {
  ExitStatus out;
  if (WIFEXITED(status)) {
    out.exited = true;
    out.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

// The port file holds a decimal port and a newline. It is renamed into place, so a file that
// exists is complete; the newline is still required so a torn write would be noticed.
std::optional<uint16_t> ReadPortFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty() || text.back() != '\n') return std::nullopt;
  text.pop_back();
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (exited) return "exit code " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

Result<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(DaemonOptions options) {
  std::unique_ptr<DaemonProcess> daemon(new DaemonProcess(std::move(options)));
  RETURN_IF_ERROR(daemon->ChooseStore());
  RETURN_IF_ERROR(daemon->Spawn());
  if (Status ready = daemon->WaitForPort(); !ready.ok()) {
    daemon->Kill();
    return Status(ready.code(),
                  ready.message() + "\n--- daemon log tail ---\n" + daemon->LogTail());
  }
  return daemon;
}

Status DaemonProcess::ChooseStore() {
  if (!options_.store.empty()) return Status::Ok();
  const char* wanted = std::getenv(kStoreEnvVariable);
  if (wanted == nullptr || *wanted == '\0' || std::string_view(wanted) == "sqlite") {
    return Status::Ok();
  }
  if (std::string_view(wanted) != "postgresql") {
    return Status::InvalidArgument(std::string(kStoreEnvVariable) + "=" + wanted +
                                   ": want postgresql, sqlite or nothing");
  }
  // A restart on the same data dir must find the database of the daemon before it.
  std::filesystem::path uri_file = options_.data_dir / kStoreUriFile;
  if (std::ifstream in(uri_file); in) {
    std::string uri;
    std::getline(in, uri);
    if (uri.empty()) return Status::IoError(uri_file.string() + " is empty");
    options_.store = uri;
    return Status::Ok();
  }
  std::string uri = FreshPgDatabaseUri();
  if (uri.empty()) return Status::Unavailable("no PostgreSQL database for the daemon");
  std::ofstream out(uri_file);
  out << uri << "\n";
  if (!out.flush()) return Status::IoError("cannot write " + uri_file.string());
  options_.store = uri;
  return Status::Ok();
}

Status DaemonProcess::Spawn() {
  std::filesystem::path port_file = options_.data_dir / "batchd.port";
  std::error_code ec;
  std::filesystem::remove(port_file, ec);
  if (ec) return Status::IoError("cannot remove stale " + port_file.string() + ": " + ec.message());

  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<std::string> args = {
      options_.binary.string(),   "serve",       "--listen",        "127.0.0.1:0", "--data-dir",
      options_.data_dir.string(), "--log-level", options_.log_level};
  if (!options_.store.empty()) args.insert(args.end(), {"--store", options_.store});
  if (!options_.node_name.empty()) args.insert(args.end(), {"--node-name", options_.node_name});
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Appended, so a restarted daemon's log follows the previous one's in the same file.
  int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::IoError("open " + log_path().string() + ": " + strerror(errno));
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Status::IoError(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // Die with the test process, whatever happens to it; and do not miss a parent that died
    // between fork and prctl.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());  // other fds are O_CLOEXEC or gtest's own
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return Status::Ok();
}

Status DaemonProcess::WaitForPort() {
  std::filesystem::path port_file = options_.data_dir / "batchd.port";
  auto deadline = Clock::now() + options_.start_timeout;
  for (;;) {
    if (auto port = ReadPortFile(port_file)) {
      port_ = *port;
      return Status::Ok();
    }
    if (auto exited = WaitForExit(std::chrono::milliseconds(0))) {
      return Status::Unavailable("batchd exited before listening: " + exited->ToString());
    }
    if (Clock::now() >= deadline) {
      // Say what is there: an unparsable file (no newline, not a number) is a contract bug.
      std::ifstream in(port_file);
      std::string seen = in ? "it holds \"" +
                                  std::string((std::istreambuf_iterator<char>(in)),
                                              std::istreambuf_iterator<char>()) +
                                  "\" (want a decimal port and a newline)"
                            : "it does not exist";
      return Status::Unavailable("batchd did not write " + port_file.string() + " within " +
                                 std::to_string(options_.start_timeout.count()) + " ms; " + seen);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::optional<ExitStatus> DaemonProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = FromWaitStatus(status);
      pid_ = -1;
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) {  // not our child any more: nothing left to wait for
      pid_ = -1;
      return exit_status_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<ExitStatus> DaemonProcess::Stop(int signal) {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, signal);
  if (auto exited = WaitForExit(options_.stop_timeout)) return *exited;
  ExitStatus killed = Kill();
  return Status::IoError("batchd did not exit within " +
                         std::to_string(options_.stop_timeout.count()) + " ms of signal " +
                         std::to_string(signal) + "; SIGKILLed (" + killed.ToString() + ")");
}

ExitStatus DaemonProcess::Kill() {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = FromWaitStatus(status);
  pid_ = -1;
  return exit_status_;
}

std::string DaemonProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return "(no log)";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) (void)Stop(SIGTERM);  // Stop falls back to SIGKILL, so this always reaps
}

}  // namespace batchd::testing
