// Runs the real `batchd serve` as a child process on a free loopback port, for black-box tests
// (in the spirit of Redis's `start_server {...}`). The daemon picks the port itself (--listen
// 127.0.0.1:0) and publishes it in DATA_DIR/batchd.port, so tests never race for ports.
//
// A DaemonProcess never outlives its owner: the destructor stops the child (SIGTERM, then
// SIGKILL if it does not exit in time), and the child is also SIGKILLed by the kernel if the
// test process itself dies (PR_SET_PDEATHSIG), so a failed ASSERT or a crash leaks no daemons.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchd::testing {

struct DaemonOptions {
  std::filesystem::path binary;    // the batchd executable
  std::filesystem::path data_dir;  // must exist; the database and batchd.port live here
  std::string log_level = "info";
  std::vector<std::string> extra_args;  // appended after the standard ones, e.g. limits
  // Where the daemon's stdout and stderr go; empty: data_dir/batchd.log. Tests that fill the
  // data dir's file system keep the log elsewhere, so it outlives the full disk.
  std::filesystem::path log_file;
  // How long Start waits for batchd.port, and Stop for the exit.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(30);
  // The state store (--store): empty means the embedded SQLite store in data_dir, unless the
  // environment asks for another (kStoreEnvVariable below).
  std::string store;
  // --node-name when not empty (nodes of one PostgreSQL store; docs/scale-out.md).
  std::string node_name;
};

// With BATCHD_TEST_DAEMON_STORE=postgresql, a daemon whose options name no store runs on a fresh
// PostgreSQL database (tests/pg/pg_test_db.h) instead of SQLite, so the REST integration tests
// can run against the PostgreSQL store unchanged. The database belongs to the data dir: its URI
// is kept in DATA_DIR/kStoreUriFile, so a daemon restarted on the same data dir finds the same
// database. Unset or empty: SQLite. Any other value fails Start.
inline constexpr const char* kStoreEnvVariable = "BATCHD_TEST_DAEMON_STORE";
inline constexpr const char* kStoreUriFile = "test-store-uri";

// How a child ended.
struct ExitStatus {
  bool exited = false;  // exited normally (then `code` is set), otherwise killed by `signal`
  int code = 0;
  int signal = 0;

  bool CleanExit() const { return exited && code == 0; }
  std::string ToString() const;  // "exit code 0", "killed by signal 9"
};

class DaemonProcess {
 public:
  // Starts the daemon and waits until it has published its port. A stale batchd.port from an
  // earlier run in the same data dir is removed first, so the port read is always this
  // child's. Fails (with the tail of the daemon log in the message) if the child exits early
  // or the port does not appear within options.start_timeout; the child is killed then.
  static Result<std::unique_ptr<DaemonProcess>> Start(DaemonOptions options);

  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& data_dir() const { return options_.data_dir; }
  // The SQLite database file; meaningless when store() is not empty.
  std::filesystem::path db_path() const { return options_.data_dir / "batchd.db"; }
  // The --store this daemon was given (options.store, or the one the environment chose);
  // empty: the embedded SQLite store.
  const std::string& store() const { return options_.store; }
  std::filesystem::path log_path() const {
    return options_.log_file.empty() ? options_.data_dir / "batchd.log" : options_.log_file;
  }
  bool running() const { return pid_ > 0; }

  // Sends `signal` (SIGTERM or SIGINT) and waits up to options.stop_timeout for the exit.
  // kIoError if the child has to be SIGKILLed because it did not stop in time (the daemon is
  // gone either way). Calling it on a stopped daemon returns the recorded exit status.
  Result<ExitStatus> Stop(int signal = 15 /* SIGTERM */);

  // SIGKILL, for crash tests: the daemon gets no chance to clean up.
  ExitStatus Kill();

  // The last `max_bytes` of the daemon's stdout/stderr, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit DaemonProcess(DaemonOptions options) : options_(std::move(options)) {}
  // Settles options_.store from the environment when the options name none (see
  // kStoreEnvVariable).
  Status ChooseStore();
  Status Spawn();
  Status WaitForPort();
  // Waits up to `timeout` for the child; nullopt if it is still running.
  std::optional<ExitStatus> WaitForExit(std::chrono::milliseconds timeout);

  DaemonOptions options_;
  pid_t pid_ = -1;  // -1 once reaped
  uint16_t port_ = 0;
  ExitStatus exit_status_;
};

}  // namespace batchd::testing
