// The command line as an operator meets it: help texts, exit codes, refusals at start-up.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <SQLiteCpp/Database.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/auth_helpers.h"
#include "tests/support/daemon_fixture.h"

namespace batchd::testing {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `batchd ARGS` through the shell with `env_prefix` (e.g. "BATCHD_LISTEN=x ") under
// `timeout_spec` (timeout(1) arguments), so a daemon that fails to refuse cannot hang the test.
CommandResult RunBatchd(const std::string& args, const std::string& env_prefix = "",
                        const std::string& timeout_spec = "-s KILL 20") {
  const std::string cmd = env_prefix + "timeout " + timeout_spec + " " +
                          std::string(BATCHD_BINARY) + " " + args + " 2>&1";
  CommandResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(ServeCliTest, HelpListsTheCommandsAndEveryServeOption) {
  CommandResult top = RunBatchd("--help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.output.find("serve"), std::string::npos) << top.output;

  CommandResult serve = RunBatchd("serve --help");
  EXPECT_EQ(serve.exit_code, 0);
  for (const char* expected :
       {"--listen", "BATCHD_LISTEN", "--data-dir", "BATCHD_DATA_DIR", "--log-level",
        "BATCHD_LOG_LEVEL", "--max-sessions-per-batch", "--max-body-bytes", "--token-file",
        "BATCHD_TOKEN_FILE", "--cors-origin", "--max-connections", "--max-active-batches"}) {
    EXPECT_NE(serve.output.find(expected), std::string::npos) << expected << "\n" << serve.output;
  }
}

TEST(ServeCliTest, UsageErrorsExitTwoAndNameTheProblem) {
  CommandResult unknown = RunBatchd("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos);

  CommandResult bad_flag = RunBatchd("serve --no-such-flag 1");
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_NE(bad_flag.output.find("--no-such-flag"), std::string::npos) << bad_flag.output;

  CommandResult bad_listen = RunBatchd("serve --listen localhost");
  EXPECT_EQ(bad_listen.exit_code, 2);
  EXPECT_NE(bad_listen.output.find("HOST:PORT"), std::string::npos) << bad_listen.output;

  CommandResult bad_env = RunBatchd("serve", "BATCHD_LOG_LEVEL=loud ");
  EXPECT_EQ(bad_env.exit_code, 2);
  EXPECT_NE(bad_env.output.find("BATCHD_LOG_LEVEL"), std::string::npos) << bad_env.output;
}

TEST(ServeCliTest, ADatabaseFromTheFutureIsRefusedAtStartWithAClearMessage) {
  TempDir dir;
  {
    SQLite::Database db((dir.path() / "batchd.db").string(),
                        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 4242");
  }
  CommandResult r = RunBatchd("serve --listen 127.0.0.1:0 --data-dir " + dir.path().string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("schema version 4242"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("newer than this batchd"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "batchd.port"));
}

class ServeDaemonTest : public DaemonTest {};

TEST_F(ServeDaemonTest, PortZeroIsPublishedAndASecondDaemonOnTheSameDirIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EXPECT_GT(daemon().port(), 0);
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.Json()["status"], "ok");

  CommandResult second = RunBatchd("serve --listen 127.0.0.1:0 --data-dir " + data_dir().string());
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find("already using"), std::string::npos) << second.output;
}

TEST(ServeCliTest, EnvironmentVariablesConfigureTheDaemon) {
  TempDir dir;
  // The daemon runs until timeout(1) sends SIGTERM; its log tells where it listened.
  CommandResult r = RunBatchd("serve",
                              "BATCHD_LISTEN=127.0.0.1:0 BATCHD_DATA_DIR=" + dir.path().string() +
                                  " BATCHD_LOG_LEVEL=info ",
                              "-s TERM 2");
  EXPECT_NE(r.output.find("batchd listening on 127.0.0.1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((dir.path() / "batchd.db").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stopped cleanly"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "batchd.db"));
}

TEST_F(ServeDaemonTest, MaxSessionsPerBatchIsEnforced) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max-sessions-per-batch", "5"}));
  ASSERT_OK_AND_ASSIGN(
      HttpResponse refused,
      client().Post("/api/v1/batches",
                    R"({"template":{"x":0},"data":[[{"field":"/x","items":[1,2,3,4,5,6]}]]})"));
  EXPECT_EQ(refused.status, 413) << refused.Describe();
  EXPECT_EQ(refused.Json()["error"]["code"], "too_many_sessions");
}

// Acceptance: an address other than loopback without a token file refuses to start, saying
// why, before anything is opened.
TEST(ServeCliTest, ANonLoopbackAddressWithoutATokenFileRefusesToStart) {
  for (const std::string& listen : {"0.0.0.0:0", "[::]:0"}) {
    TempDir dir;
    CommandResult flag =
        RunBatchd("serve --listen " + listen + " --data-dir " + dir.path().string());
    EXPECT_EQ(flag.exit_code, 2) << flag.output;
    EXPECT_NE(flag.output.find("refusing to listen on"), std::string::npos) << flag.output;
    EXPECT_NE(flag.output.find("without --token-file"), std::string::npos) << flag.output;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "batchd.db")) << "nothing was opened";
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "batchd.port"));
  }
  TempDir dir;
  CommandResult env =
      RunBatchd("serve", "BATCHD_LISTEN=0.0.0.0:0 BATCHD_DATA_DIR=" + dir.path().string() + " ");
  EXPECT_EQ(env.exit_code, 2) << env.output;
  EXPECT_NE(env.output.find("without --token-file"), std::string::npos) << env.output;
}

TEST(ServeCliTest, ANonLoopbackAddressWithATokenFileFromTheEnvironmentStarts) {
  TempDir dir;
  const std::filesystem::path tokens = WriteTokenFile(dir.path(), StandardTokenFile());
  CommandResult r = RunBatchd("serve --listen 0.0.0.0:0 --data-dir " + dir.path().string(),
                              "BATCHD_TOKEN_FILE=" + tokens.string() + " ", "-s TERM 3");
  EXPECT_NE(r.output.find("authentication: 1 admin and 1 read token(s) from " + tokens.string()),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("batchd listening on 0.0.0.0:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stopped cleanly"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(kAdminToken), std::string::npos);
}

// A token file that cannot be used refuses the start with exit code 2, naming the file and the
// line, never quoting the line.
TEST(ServeCliTest, ABadTokenFileRefusesToStartNamingTheLine) {
  const std::string secret = "Secret-Looking-Value-0123456789";
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"# ops\nadmin:" + kAdminToken + "\nsuperuser:" + secret + "\n",
       "line 3: the role before ':' must be admin or read"},
      {"\nread " + secret + "\n", "line 2: expected admin:TOKEN or read:TOKEN"},
      {"admin:" + secret.substr(0, 8) + "\n", "line 1: a token must be 16 to 256"},
      {"# nothing here\n", "no tokens"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    const std::filesystem::path tokens = WriteTokenFile(dir.path(), c.text);
    CommandResult r = RunBatchd("serve --listen 127.0.0.1:0 --data-dir " + dir.path().string() +
                                " --token-file " + tokens.string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("token file " + tokens.string() + ": " + c.expected), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find(secret.substr(0, 8)), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "batchd.port"));
  }
  TempDir dir;
  CommandResult missing = RunBatchd("serve --listen 127.0.0.1:0 --data-dir " + dir.path().string() +
                                    " --token-file /no/such/tokens");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("cannot read the token file /no/such/tokens"), std::string::npos)
      << missing.output;
}

TEST_F(ServeDaemonTest, SigintStopsCleanlyAndRemovesThePortFile) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly(SIGINT));
  EXPECT_FALSE(std::filesystem::exists(data_dir() / "batchd.port"));
}

}  // namespace
}  // namespace batchd::testing
