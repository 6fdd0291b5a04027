#include "daemon/serve_config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace batchd::daemon {
namespace {

// A fake environment for ParseServeArgs (it takes a plain function pointer).
std::map<std::string, std::string>& FakeEnv() {
  static std::map<std::string, std::string> env;
  return env;
}
const char* FakeGetenv(const char* name) {
  auto it = FakeEnv().find(name);
  return it == FakeEnv().end() ? nullptr : it->second.c_str();
}

class ServeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { FakeEnv().clear(); }
  Result<ServeConfig> Parse(std::vector<std::string> args) {
    return ParseServeArgs(args, FakeGetenv);
  }
};

TEST_F(ServeConfigTest, DefaultsAreTheDocumentedOnes) {
  Result<ServeConfig> c = Parse({});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->data_dir, "var");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->slots, 0) << "0 means: the number of cores";
}

TEST_F(ServeConfigTest, FlagsWinOverEnvironmentWhichWinsOverDefaults) {
  FakeEnv()["BATCHD_LISTEN"] = "127.0.0.2:9000";
  FakeEnv()["BATCHD_DATA_DIR"] = "/tmp/from-env";
  FakeEnv()["BATCHD_SLOTS"] = "16";
  Result<ServeConfig> c = Parse({"--listen", "127.0.0.3:0", "--slots=4"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "127.0.0.3");
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->slots, 4);
  EXPECT_EQ(c->data_dir, "/tmp/from-env");
}

TEST_F(ServeConfigTest, BadValuesNameTheirFlagOrVariable) {
  struct Case {
    std::vector<std::string> args;
    std::string env_name, env_value, expected_path;
  };
  for (const Case& k : std::vector<Case>{
           {{"--listen", "nohost"}, "", "", "--listen"},
           {{"--listen", "127.0.0.1:99999"}, "", "", "--listen port"},
           {{"--slots", "0"}, "", "", "--slots"},
           {{"--slots"}, "", "", "--slots"},
           {{"--bogus", "1"}, "", "", "--bogus"},
           {{}, "BATCHD_MAX_BODY_BYTES", "lots", "BATCHD_MAX_BODY_BYTES"},
           {{"--log-level", "chatty"}, "", "", "--log-level"},
           {{"--log-format", "xml"}, "", "", "--log-format"},
       }) {
    FakeEnv().clear();
    if (!k.env_name.empty()) FakeEnv()[k.env_name] = k.env_value;
    Result<ServeConfig> c = Parse(k.args);
    ASSERT_FALSE(c.ok()) << k.expected_path;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().path(), k.expected_path) << c.status().ToString();
  }
}

TEST_F(ServeConfigTest, EventStreamOptionsHaveTheirDefaultsFlagsAndVariables) {
  Result<ServeConfig> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->event_retention_events, 1'000'000);
  EXPECT_EQ(defaults->event_retention_seconds, 86'400);
  EXPECT_EQ(defaults->event_queue_limit, 1024u);
  EXPECT_EQ(defaults->event_ping_ms, 15'000);
  EXPECT_EQ(defaults->event_max_subscribers, 1000u);
  EXPECT_EQ(defaults->event_small_batch, 1000u);
  EXPECT_EQ(defaults->event_session_rate, 1000u);

  FakeEnv()["BATCHD_EVENT_RETENTION_EVENTS"] = "500";
  FakeEnv()["BATCHD_EVENT_PING_MS"] = "250";
  Result<ServeConfig> c =
      Parse({"--event-queue-limit", "64", "--event-small-batch=0", "--event-session-rate", "5",
             "--event-max-subscribers", "3", "--event-retention-seconds", "60"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->event_retention_events, 500);
  EXPECT_EQ(c->event_ping_ms, 250);
  EXPECT_EQ(c->event_queue_limit, 64u);
  EXPECT_EQ(c->event_small_batch, 0u);
  EXPECT_EQ(c->event_session_rate, 5u);
  EXPECT_EQ(c->event_max_subscribers, 3u);
  EXPECT_EQ(c->event_retention_seconds, 60);

  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--event-queue-limit", "0"},
                                                        {"--event-ping-ms", "5"},
                                                        {"--event-retention-events", "0"},
                                                        {"--event-retention-seconds", "-1"},
                                                        {"--event-session-rate", "fast"},
                                                        {"--event-max-subscribers", "0"}}) {
    FakeEnv().clear();
    Result<ServeConfig> bad = Parse({flag, value});
    ASSERT_FALSE(bad.ok()) << flag << " " << value;
    EXPECT_EQ(bad.status().path(), flag) << bad.status().ToString();
  }
}

TEST_F(ServeConfigTest, LogFormatIsTextByDefaultOrJsonByFlagOrVariable) {
  Result<ServeConfig> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->log_format, "text");
  FakeEnv()["BATCHD_LOG_FORMAT"] = "json";
  Result<ServeConfig> from_env = Parse({});
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->log_format, "json");
  Result<ServeConfig> from_flag = Parse({"--log-format=text"});
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->log_format, "text");
}

TEST_F(ServeConfigTest, HelpMentionsEveryFlagWithItsVariable) {
  const std::string help = ServeHelp();
  for (const char* s :
       {"--listen", "BATCHD_LISTEN", "--data-dir", "BATCHD_DATA_DIR", "--slots", "BATCHD_SLOTS",
        "--retry-backoff-ms", "--insert-slice-rows", "--event-retention-events",
        "BATCHD_EVENT_RETENTION_SECONDS", "--event-queue-limit", "--event-ping-ms",
        "--event-max-subscribers", "--event-small-batch", "BATCHD_EVENT_SESSION_RATE",
        "--log-format", "BATCHD_LOG_FORMAT"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace batchd::daemon

namespace batchd::daemon {
namespace {

TEST_F(ServeConfigTest, FileRootsRepeatAndReplaceTheVariable) {
  FakeEnv()["BATCHD_FILE_ROOTS"] = "/env/a:/env/b";
  Result<ServeConfig> from_env = Parse({});
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->file_roots,
            (std::vector<std::filesystem::path>{"/env/a", "/env/b"}));
  Result<ServeConfig> from_flags = Parse({"--file-root", "/x", "--file-root=/y"});
  ASSERT_TRUE(from_flags.ok());
  EXPECT_EQ(from_flags->file_roots, (std::vector<std::filesystem::path>{"/x", "/y"}));
  FakeEnv().clear();
  EXPECT_TRUE(Parse({})->file_roots.empty()) << "no roots by default: file:// is refused";
}

TEST_F(ServeConfigTest, PipelineLimitsAreCheckedAndNamed) {
  Result<ServeConfig> c = Parse({"--fetch-concurrency", "8", "--bytes-in-flight", "1048576",
                                 "--decode-threads", "3", "--http-max-in-flight", "16",
                                 "--checkpoint-interval-ms", "250"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->fetch_concurrency, 8);
  EXPECT_EQ(c->bytes_in_flight, 1048576);
  EXPECT_EQ(c->decode_threads, 3);
  EXPECT_EQ(c->http_max_in_flight, 16);
  EXPECT_EQ(c->checkpoint_interval_ms, 250);
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--fetch-concurrency", "0"},
           {"--bytes-in-flight", "100"},
           {"--decode-threads", "x"},
           {"--checkpoint-interval-ms", "1"}}) {
    Result<ServeConfig> bad = Parse({flag, value});
    ASSERT_FALSE(bad.ok()) << flag;
    EXPECT_EQ(bad.status().path(), flag);
  }
}

}  // namespace
}  // namespace batchd::daemon
