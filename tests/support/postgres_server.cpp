#include "tests/support/postgres_server.h"

#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/command.h"
#include "tests/support/loopback_socket.h"

namespace batchd::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(20);
// The server may lose the race for the port we picked to another test's server: pick again.
constexpr int kStartAttempts = 5;
constexpr const char* kSuperuser = "batchd";
constexpr const char* kServerUser = "postgres";  // created by Debian's postgresql package
constexpr const char* kRunuser = "/usr/sbin/runuser";
constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr auto kPsqlTimeout = std::chrono::seconds(120);

bool IsExecutable(const std::filesystem::path& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string ReadFrom(const std::filesystem::path& path, std::streamoff offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::streamoff FileSize(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::streamoff>(size);
}

bool IsValidDatabaseName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

PostgresServer::PostgresServer(PostgresOptions options)
    : options_(std::move(options)),
      work_dir_(std::make_unique<TempDir>()),
      work_dir_path_(work_dir_->path()),
      as_root_(::geteuid() == 0) {}

std::string PostgresServer::Uri(std::string_view database) const {
  return std::string("postgresql://") + kSuperuser + "@127.0.0.1:" + std::to_string(port_) + "/" +
         std::string(database);
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(PostgresOptions options) {
  for (const char* name : {"initdb", "postgres", "psql", "pg_isready"}) {
    if (!IsExecutable(options.bin_dir / name)) {
      return Status::FailedPrecondition((options.bin_dir / name).string() +
                                        " is missing: install postgresql-15 "
                                        "(scripts/install-deps.sh)");
    }
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(std::move(options)));
  RETURN_IF_ERROR(server->InitCluster());
  RETURN_IF_ERROR(server->WriteConfig());

  Status last;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    ASSIGN_OR_RETURN(uint16_t port, PickFreePort());
    server->port_ = port;
    const std::streamoff log_start = FileSize(server->LogPath());
    last = server->SpawnAndWait();
    if (last.ok()) return server;
    (void)server->StopPostmaster();
    if (ReadFrom(server->LogPath(), log_start).find("could not bind") == std::string::npos) break;
  }
  return last;
}

Status PostgresServer::InitCluster() {
  std::vector<std::string> argv;
  if (as_root_) {
    // initdb refuses root; the cluster belongs to Debian's `postgres` user, which must be able
    // to enter the work dir (TempDir makes it 0700 for root).
    const struct passwd* user = ::getpwnam(kServerUser);
    if (user == nullptr) {
      return Status::FailedPrecondition(
          std::string("running as root, but there is no '") + kServerUser +
          "' user to run PostgreSQL as: install postgresql-15 (scripts/install-deps.sh)");
    }
    if (!IsExecutable(kRunuser) || !IsExecutable(kSetpriv)) {
      return Status::FailedPrecondition(std::string(kRunuser) + " and " + kSetpriv +
                                        " are needed to run PostgreSQL as root (util-linux)");
    }
    if (::chown(work_dir_path_.c_str(), user->pw_uid, user->pw_gid) != 0) {
      return Status::IoError("chown " + work_dir_path_.string() + ": " + std::strerror(errno));
    }
    argv = {kRunuser, "-u", kServerUser, "--"};
  }
  const std::vector<std::string> initdb = {(options_.bin_dir / "initdb").string(),
                                           "--pgdata=" + DataDir().string(),
                                           std::string("--username=") + kSuperuser,
                                           "--auth=trust",
                                           "--encoding=UTF8",
                                           "--locale=C",
                                           "--no-sync",  // a test cluster: see the header
                                           "--no-instructions"};
  argv.insert(argv.end(), initdb.begin(), initdb.end());
  ASSIGN_OR_RETURN(CommandOutput out, RunCommand(argv));
  if (out.exit_code != 0) {
    return Status::IoError("initdb failed (exit " + std::to_string(out.exit_code) + "):\n" +
                           out.out + out.err);
  }
  return Status::Ok();
}

Status PostgresServer::WriteConfig() {
  std::ostringstream conf;
  conf << "\n# batchd test cluster (tests/support/postgres_server.cpp)\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << work_dir_path_.string() << "'\n"
       << "max_connections = " << options_.max_connections << "\n";
  if (!options_.durable) {
    // Only an OS crash loses what these skip. synchronous_commit stays on: without fsync a
    // commit costs a write() anyway, and a commit acknowledged before Kill() survives it.
    conf << "fsync = off\n"
         << "full_page_writes = off\n";
  }
  for (const std::string& line : options_.extra_settings) conf << line << "\n";
  // initdb made the file (as the server's user); appending keeps its owner.
  std::ofstream out(DataDir() / "postgresql.conf", std::ios::app);
  out << conf.str();
  out.close();
  if (!out) return Status::IoError("cannot append to " + (DataDir() / "postgresql.conf").string());
  return Status::Ok();
}

Status PostgresServer::Spawn() {
  std::vector<std::string> argv;
  if (as_root_) {
    // setpriv execs the server in place (runuser would fork and wait, and a SIGKILL to it
    // would orphan the postmaster), and sets the parent-death signal again after the uid
    // change, which clears it.
    argv = {kSetpriv,
            std::string("--reuid=") + kServerUser,
            std::string("--regid=") + kServerUser,
            "--init-groups",
            "--pdeathsig=KILL",
            "--"};
  }
  const std::vector<std::string> postgres = {(options_.bin_dir / "postgres").string(), "-D",
                                             DataDir().string(), "-p", std::to_string(port_)};
  argv.insert(argv.end(), postgres.begin(), postgres.end());
  ASSIGN_OR_RETURN(pid_, SpawnChild(std::move(argv), LogPath().string()));
  return Status::Ok();
}

Status PostgresServer::WaitUntilAccepting() {
  const auto deadline = Clock::now() + options_.start_timeout;
  const std::string pg_isready = (options_.bin_dir / "pg_isready").string();
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("postgres exited at start:\n" + LogTail());
    }
    // Exit 0 only once it accepts connections (not while starting up or recovering).
    auto ready = RunCommand({pg_isready, "-q", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
                             kSuperuser, "-d", "postgres", "-t", "5"},
                            std::chrono::seconds(30));
    if (ready.ok() && ready->exit_code == 0) return Status::Ok();
    if (Clock::now() >= deadline) {
      return Status::Unavailable(
          "postgres did not accept connections on port " + std::to_string(port_) + " within " +
          std::to_string(options_.start_timeout.count()) + " ms:\n" + LogTail());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status PostgresServer::SpawnAndWait() {
  // After Kill the postmaster's children exit only once they notice it is gone, and a new
  // postmaster refuses to start while they still hold the old shared memory: try again then.
  const auto deadline = Clock::now() + options_.start_timeout;
  for (;;) {
    const std::streamoff log_start = FileSize(LogPath());
    RETURN_IF_ERROR(Spawn());
    Status started = WaitUntilAccepting();
    if (started.ok() || pid_ > 0 || Clock::now() >= deadline) return started;
    if (ReadFrom(LogPath(), log_start).find("is still in use") == std::string::npos) return started;
    std::this_thread::sleep_for(kPollInterval * 5);
  }
}

Status PostgresServer::StopPostmaster() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGINT);  // fast shutdown: open connections must not hold it up
  const auto deadline = Clock::now() + options_.stop_timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      pid_ = -1;
      return Status::Ok();
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RETURN_IF_ERROR(Kill());
  return Status::IoError("postgres did not stop within " +
                         std::to_string(options_.stop_timeout.count()) + " ms; SIGKILLed");
}

Status PostgresServer::Kill() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return Status::Ok();
}

Status PostgresServer::Restart() {
  if (!work_dir_) return Status::FailedPrecondition("postgres was stopped; its data is gone");
  // A stop that needed SIGKILL leaves a cluster that crash recovery brings back: go on.
  (void)StopPostmaster();
  return SpawnAndWait();
}

Status PostgresServer::Stop() {
  Status stopped = StopPostmaster();
  work_dir_.reset();
  return stopped;
}

PostgresServer::~PostgresServer() { (void)Stop(); }

Status PostgresServer::CreateDatabase(std::string_view name) {
  if (!IsValidDatabaseName(name)) {
    return Status::InvalidArgument("database name '" + std::string(name) +
                                   "' is not 1..63 characters of [a-z0-9_]");
  }
  Status created =
      Execute("postgres", "CREATE DATABASE \"" + std::string(name) + "\" TEMPLATE template0");
  if (!created.ok() && created.message().find("already exists") != std::string::npos) {
    return Status::Conflict(created.message());
  }
  return created;
}

Status PostgresServer::Execute(std::string_view database, std::string_view sql) {
  return RunPsql(database, sql, false).status();
}

Result<std::string> PostgresServer::Query(std::string_view database, std::string_view sql) {
  return RunPsql(database, sql, true);
}

Result<std::string> PostgresServer::RunPsql(std::string_view database, std::string_view sql,
                                            bool tuples_only) {
  if (!work_dir_) return Status::Unavailable("postgres was stopped");
  if (pid_ <= 0) return Status::Unavailable("postgres is not running (killed or stopped)");
  // A script file (not -c) so that each statement runs on its own, as in a migration: -c sends
  // them as one implicit transaction, which CREATE DATABASE refuses.
  static std::atomic<int> script_counter{0};
  const std::filesystem::path script =
      work_dir_path_ / ("script-" + std::to_string(script_counter++) + ".sql");
  {
    std::ofstream out(script, std::ios::trunc);
    out << sql << "\n";
    if (!out) return Status::IoError("cannot write " + script.string());
  }
  std::vector<std::string> argv = {(options_.bin_dir / "psql").string(),
                                   "--no-psqlrc",
                                   "--quiet",
                                   "--set=ON_ERROR_STOP=1",
                                   "--dbname=" + Uri(database) + "?connect_timeout=10",
                                   "--file=" + script.string()};
  if (tuples_only) {
    argv.push_back("--no-align");
    argv.push_back("--tuples-only");
  }
  auto out = RunCommand(argv, kPsqlTimeout);
  std::error_code ignored;
  std::filesystem::remove(script, ignored);
  if (!out.ok()) return out.status();
  if (out->exit_code == 0) return std::move(out->out);
  // psql: 2 = the connection failed or went bad, 3 = a statement failed, 1 = psql's own error.
  const std::string what =
      "psql on " + Uri(database) + " (exit " + std::to_string(out->exit_code) + "): " + out->err;
  if (out->exit_code == 2) {
    if (out->err.find("does not exist") != std::string::npos) return Status::NotFound(what);
    return Status::Unavailable(what);
  }
  return Status::InvalidArgument(what);
}

std::string PostgresServer::LogTail(size_t max_bytes) const {
  std::string text = ReadFrom(LogPath(), 0);
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text.empty() ? "(postgres logged nothing)" : text;
}

}  // namespace batchd::testing
