// The PostgreSQL harness (tests/support/postgres_server.h, postgres_fixture.h) against Debian's
// PostgreSQL 15: databases are isolated, a killed server fails clearly and comes back with its
// committed data, a stopped one leaves nothing behind, and the server dies with the test.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/loopback_socket.h"
#include "tests/support/postgres_fixture.h"
#include "tests/support/postgres_server.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

std::string DatabaseOf(const std::string& uri) { return uri.substr(uri.rfind('/') + 1); }

bool PortRefused(int port) {
  auto socket = LoopbackSocket::Connect(static_cast<uint16_t>(port), std::chrono::seconds(5));
  return !socket.ok() && socket.status().code() == StatusCode::kUnavailable;
}

// Gone or a zombie nobody reaps yet: either way it serves nothing.
bool ProcessGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

TEST(PostgresServerTest, UriNamesTheSuperuserLoopbackPortAndDatabase) {
  PostgresServer& server = SharedPostgres();
  EXPECT_GT(server.port(), 0);
  EXPECT_EQ(server.Uri("jobs"),
            "postgresql://batchd@127.0.0.1:" + std::to_string(server.port()) + "/jobs");
}

TEST(PostgresServerTest, FreshDatabasesAreEmptyAndIsolated) {
  PostgresServer& server = SharedPostgres();
  const std::string a = DatabaseOf(FreshDatabaseUri());
  const std::string b = DatabaseOf(FreshDatabaseUri());
  ASSERT_NE(a, b);
  ASSERT_OK_AND_ASSIGN(std::string tables,
                       server.Query(a,
                                    "SELECT count(*) FROM pg_tables WHERE schemaname = "
                                    "'public'"));
  EXPECT_EQ(tables, "0\n");

  ASSERT_OK(server.Execute(a, "CREATE TABLE items (v int); INSERT INTO items VALUES (1), (2);"));
  ASSERT_OK(server.Execute(b, "CREATE TABLE items (v int); INSERT INTO items VALUES (30);"));
  ASSERT_OK(server.Execute(a, "CREATE TABLE only_in_a (v int);"));

  ASSERT_OK_AND_ASSIGN(std::string in_a, server.Query(a, "SELECT v FROM items ORDER BY v"));
  EXPECT_EQ(in_a, "1\n2\n");
  ASSERT_OK_AND_ASSIGN(std::string in_b, server.Query(b, "SELECT v, v * 2 FROM items"));
  EXPECT_EQ(in_b, "30|60\n");
  Status missing = server.Execute(b, "SELECT * FROM only_in_a");
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument) << missing.ToString();
  EXPECT_NE(missing.message().find("only_in_a"), std::string::npos) << missing.ToString();
}

TEST(PostgresServerTest, ExecuteStopsAtTheFirstFailingStatement) {
  PostgresServer& server = SharedPostgres();
  const std::string db = DatabaseOf(FreshDatabaseUri());
  Status failed = server.Execute(db,
                                 "CREATE TABLE t (v int);\n"
                                 "INSERT INTO t VALUES ('not a number');\n"
                                 "CREATE TABLE after_the_error (v int);");
  EXPECT_EQ(failed.code(), StatusCode::kInvalidArgument) << failed.ToString();
  EXPECT_NE(failed.message().find("invalid input syntax"), std::string::npos) << failed.ToString();
  ASSERT_OK_AND_ASSIGN(std::string tables,
                       server.Query(db,
                                    "SELECT tablename FROM pg_tables WHERE schemaname = "
                                    "'public' ORDER BY 1"));
  EXPECT_EQ(tables, "t\n");
}

TEST(PostgresServerTest, CreateDatabaseRejectsBadNamesAndDuplicates) {
  PostgresServer& server = SharedPostgres();
  for (const char* bad : {"", "Upper", "semi;colon", "quo\"te", "dash-ed", "with space"}) {
    EXPECT_EQ(server.CreateDatabase(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(server.CreateDatabase(std::string(64, 'a')).code(), StatusCode::kInvalidArgument);
  ASSERT_OK(server.CreateDatabase("dup_1"));
  Status again = server.CreateDatabase("dup_1");
  EXPECT_EQ(again.code(), StatusCode::kConflict) << again.ToString();
}

TEST(PostgresServerTest, UnknownDatabaseIsNotFound) {
  PostgresServer& server = SharedPostgres();
  Status status = server.Execute("no_such_db", "SELECT 1");
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
}

TEST(PostgresServerTest, KilledServerFailsClearlyAndRestartsWithCommittedData) {
  ASSERT_OK_AND_ASSIGN(auto server, PostgresServer::Start());
  ASSERT_OK(server->CreateDatabase("crash"));
  ASSERT_OK(server->Execute("crash", "CREATE TABLE t (v int); INSERT INTO t VALUES (7);"));

  ASSERT_OK(server->Kill());
  EXPECT_FALSE(server->running());
  EXPECT_TRUE(PortRefused(server->port()));
  Status down = server->Execute("crash", "SELECT 1");
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
  EXPECT_EQ(server->Query("crash", "SELECT 1").status().code(), StatusCode::kUnavailable);

  ASSERT_OK(server->Restart());
  EXPECT_TRUE(server->running());
  ASSERT_OK_AND_ASSIGN(std::string rows, server->Query("crash", "SELECT v FROM t"));
  EXPECT_EQ(rows, "7\n");
  ASSERT_OK(server->Restart());  // a restart of a running server is a clean stop and start
  ASSERT_OK_AND_ASSIGN(rows, server->Query("crash", "SELECT count(*) FROM t"));
  EXPECT_EQ(rows, "1\n");
  ASSERT_OK(server->Stop());
}

TEST(PostgresServerTest, StopClosesThePortAndRemovesTheWorkDir) {
  ASSERT_OK_AND_ASSIGN(auto server, PostgresServer::Start());
  const std::filesystem::path work_dir = server->work_dir();
  ASSERT_TRUE(std::filesystem::exists(server->DataDir() / "PG_VERSION"));
  if (::geteuid() == 0) {
    // PostgreSQL refuses root: the cluster belongs to Debian's `postgres` user.
    struct stat st {};
    ASSERT_EQ(::stat(server->DataDir().c_str(), &st), 0);
    EXPECT_NE(st.st_uid, 0u);
  }
  ASSERT_OK(server->Stop());
  EXPECT_FALSE(server->running());
  EXPECT_TRUE(PortRefused(server->port()));
  EXPECT_FALSE(std::filesystem::exists(work_dir));
  EXPECT_EQ(server->Execute("postgres", "SELECT 1").code(), StatusCode::kUnavailable);
  EXPECT_EQ(server->Restart().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(server->Stop().ok());  // again: nothing to do
}

TEST(PostgresServerTest, MissingBinariesAreAFailedPrecondition) {
  auto server = PostgresServer::Start({.bin_dir = "/nonexistent/postgresql/bin"});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("scripts/install-deps.sh"), std::string::npos)
      << server.status().ToString();
}

TEST(PostgresServerTest, ExtraSettingsReachTheServer) {
  ASSERT_OK_AND_ASSIGN(auto server, PostgresServer::Start({.durable = true,
                                                           .max_connections = 50,
                                                           .extra_settings = {"work_mem = "
                                                                              "'7MB'"}}));
  ASSERT_OK_AND_ASSIGN(std::string settings, server->Query("postgres",
                                                           "SELECT current_setting('work_mem'), "
                                                           "current_setting('fsync'), "
                                                           "current_setting('max_connections'), "
                                                           "current_setting('listen_addresses')"));
  EXPECT_EQ(settings, "7MB|on|50|127.0.0.1\n");
  ASSERT_OK(server->Stop());
}

TEST(PostgresServerTest, TestClusterTradesDurabilityForSpeed) {
  ASSERT_OK_AND_ASSIGN(std::string settings,
                       SharedPostgres().Query("postgres",
                                              "SELECT current_setting('fsync'), "
                                              "current_setting('full_page_writes')"));
  EXPECT_EQ(settings, "off|off\n");
}

// The server must not outlive a test binary that crashes: SIGKILL a child process that started
// one, and the postmaster goes too (parent-death signal through setpriv when root).
TEST(PostgresServerTest, ServerDiesWithTheProcessThatStartedIt) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto server = PostgresServer::Start();
    std::string report = "error";
    if (server.ok()) {
      std::ifstream pid_file((*server)->DataDir() / "postmaster.pid");
      std::string pid;
      std::getline(pid_file, pid);
      report = pid + " " + std::to_string((*server)->port()) + " " + (*server)->work_dir().string();
    }
    report += "\n";
    (void)!::write(fds[1], report.data(), report.size());
    for (;;) ::pause();  // until SIGKILLed
  }
  ::close(fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
    report.append(buffer, static_cast<size_t>(n));
    if (report.find('\n') != std::string::npos) break;
  }
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);

  pid_t postmaster = 0;
  int port = 0;
  std::string work_dir;
  std::istringstream fields(report);
  ASSERT_TRUE(fields >> postmaster >> port >> work_dir) << "child reported: " << report;
  ASSERT_GT(postmaster, 0);
  // Polls until it happens; ctest's TIMEOUT is the guard if it never does.
  while (!ProcessGone(postmaster)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  while (!PortRefused(port)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::error_code ignored;  // the child never ran its destructors
  std::filesystem::remove_all(work_dir, ignored);
}

}  // namespace
}  // namespace batchd::testing
