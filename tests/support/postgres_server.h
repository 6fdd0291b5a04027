// Debian's PostgreSQL 15 as a child process, for tests and benchmarks of the PostgreSQL store:
// a throwaway cluster (initdb into a private work dir) with superuser `batchd` and trust
// authentication, listening on 127.0.0.1 on a port picked at start and on a Unix socket inside
// the work dir. Nothing is shared with a system cluster.
//
// PostgreSQL refuses to run as root. When the test runs as root (CI does), the work dir is
// chowned to Debian's `postgres` user, initdb runs through `runuser -u postgres --`, and the
// server through `setpriv` (which execs it after dropping to `postgres`, so the pid we hold is
// the postmaster's and nothing sits between us and it). Otherwise both run as the test's user.
// The postmaster is SIGKILLed by the kernel if the test process dies (parent-death signal), and
// stopped by the destructor. The kernel sends that signal when the *thread* that started the
// server exits, so start it (and Restart it) from a thread that outlives it: the test's own.
//
// By default the cluster trades durability for speed (fsync and full_page_writes off): only an
// OS crash would lose data, which a test never survives anyway. synchronous_commit stays on, so
// a commit acknowledged before Kill() is there after Restart(). PostgresOptions::durable turns
// fsync and full_page_writes back on for benchmarks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {

struct PostgresOptions {
  // Where initdb, postgres, psql and pg_isready live (Debian's postgresql-15 package).
  std::filesystem::path bin_dir = "/usr/lib/postgresql/15/bin";
  bool durable = false;  // fsync and full_page_writes on
  int max_connections = 200;
  // More postgresql.conf lines ("work_mem = '64MB'"), appended last so they win.
  std::vector<std::string> extra_settings;
  std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(10);
};

class PostgresServer {
 public:
  // Runs initdb, starts the server and waits until it accepts connections. kFailedPrecondition
  // if a binary is missing (install postgresql-15 with scripts/install-deps.sh) or, as root, the
  // `postgres` user does not exist; kUnavailable with the tail of the server log if it exits or
  // does not accept connections within options.start_timeout; kIoError if initdb fails.
  static Result<std::unique_ptr<PostgresServer>> Start(PostgresOptions options = {});

  ~PostgresServer();  // Stop()
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // "postgresql://batchd@127.0.0.1:<port>/<database>" (libpq's URI form).
  std::string Uri(std::string_view database) const;
  // The cluster's files (the data dir is DataDir(), the server log LogPath()); gone after Stop.
  const std::filesystem::path& work_dir() const { return work_dir_path_; }
  std::filesystem::path DataDir() const { return work_dir_path_ / "data"; }
  std::filesystem::path LogPath() const { return work_dir_path_ / "postgres.log"; }
  bool running() const { return pid_ > 0; }

  // Creates an empty database `name` (from template0). kInvalidArgument unless `name` is 1..63
  // characters of [a-z0-9_]; kConflict if it exists; otherwise as Execute.
  Status CreateDatabase(std::string_view name);
  // Runs `sql` (one or more statements) in `database` with psql, stopping at the first error.
  // kUnavailable if the server cannot be reached (not running, killed); kInvalidArgument with
  // psql's message if a statement fails.
  Status Execute(std::string_view database, std::string_view sql);
  // Like Execute, and returns what the statements printed: one line per row, columns separated
  // by '|', no header, each line ending in '\n' ("" for no rows).
  Result<std::string> Query(std::string_view database, std::string_view sql);

  // SIGKILLs the postmaster (a database that goes away under its clients) and reaps it; the data
  // dir stays, so Restart brings the same databases back (after crash recovery). OK if it is not
  // running.
  Status Kill();
  // Stops the server if it runs (fast shutdown) and starts it again on the same port with the
  // same data. kFailedPrecondition after Stop (the data is gone).
  Status Restart();
  // Fast shutdown (SIGINT: clients are disconnected, no wait for them), then SIGKILL after
  // options.stop_timeout; then removes the work dir. OK if already stopped; kIoError if it had
  // to be SIGKILLed (the work dir is removed all the same).
  Status Stop();

  std::string LogTail(size_t max_bytes = 3000) const;

 private:
  explicit PostgresServer(PostgresOptions options);
  Status InitCluster();
  Status WriteConfig();
  Status Spawn();
  Status WaitUntilAccepting();
  Status SpawnAndWait();
  Status StopPostmaster();
  Result<std::string> RunPsql(std::string_view database, std::string_view sql, bool tuples_only);

  PostgresOptions options_;
  std::unique_ptr<TempDir> work_dir_;  // null after Stop
  std::filesystem::path work_dir_path_;
  bool as_root_ = false;  // run the server as the `postgres` user
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace batchd::testing
