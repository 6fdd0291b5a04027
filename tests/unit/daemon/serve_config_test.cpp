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
           {{"--listen", "127.0.0.1:99999"}, "", "", "--listen"},
           {{"--listen", "::1:8080"}, "", "", "--listen"},
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

// Issue 10: the session limits a huge grid or chunk runs into (docs/pipeline.md).
TEST_F(ServeConfigTest, SessionLimitsHaveTheirDefaultsFlagsAndVariables) {
  Result<ServeConfig> d = Parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_chunk_bytes, int64_t{128} << 20);
  EXPECT_EQ(d->max_session_chunks, int64_t{1} << 32);
  FakeEnv()["BATCHD_MAX_SESSION_CHUNKS"] = "1000";
  Result<ServeConfig> c = Parse({"--max-chunk-bytes", "1048576"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_chunk_bytes, 1048576);
  EXPECT_EQ(c->max_session_chunks, 1000);
  EXPECT_FALSE(Parse({"--max-chunk-bytes", "100"}).ok()) << "below one page";
  EXPECT_FALSE(d->skip_integrity_check);
  Result<ServeConfig> skip = Parse({"--skip-integrity-check", "yes", "--allowed-host", "a.b"});
  ASSERT_TRUE(skip.ok()) << skip.status().ToString();
  EXPECT_TRUE(skip->skip_integrity_check);
  EXPECT_EQ(skip->allowed_hosts, std::vector<std::string>{"a.b"});
  EXPECT_FALSE(Parse({"--skip-integrity-check", "maybe"}).ok());
  EXPECT_FALSE(Parse({"--allowed-host", "a.b:80"}).ok()) << "a name, not an authority";
  EXPECT_FALSE(Parse({"--max-session-chunks", "0"}).ok());
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
  EXPECT_EQ(from_env->file_roots, (std::vector<std::filesystem::path>{"/env/a", "/env/b"}));
  Result<ServeConfig> from_flags = Parse({"--file-root", "/x", "--file-root=/y"});
  ASSERT_TRUE(from_flags.ok());
  EXPECT_EQ(from_flags->file_roots, (std::vector<std::filesystem::path>{"/x", "/y"}));
  FakeEnv().clear();
  EXPECT_TRUE(Parse({})->file_roots.empty()) << "no roots by default: file:// is refused";
}

// Issue 10, item 5: the outbound allowlist, flag and variable, and a bad entry refused at start.
TEST_F(ServeConfigTest, HttpAllowRepeatsReplacesTheVariableAndRefusesBadEntries) {
  EXPECT_TRUE(Parse({})->http_allow.empty()) << "nothing allowed by default";
  FakeEnv()["BATCHD_HTTP_ALLOW"] = "a.example:9000, *.b.example";
  Result<ServeConfig> from_env = Parse({});
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->http_allow, (std::vector<std::string>{"a.example:9000", "*.b.example"}));
  Result<ServeConfig> from_flags = Parse({"--http-allow", "[::1]:9000", "--http-allow=10.0.0.1"});
  ASSERT_TRUE(from_flags.ok()) << from_flags.status().ToString();
  EXPECT_EQ(from_flags->http_allow, (std::vector<std::string>{"[::1]:9000", "10.0.0.1"}));

  FakeEnv().clear();
  for (const char* bad : {"*", "host:0", "http://a.example", "::1"}) {
    Result<ServeConfig> refused = Parse({"--http-allow", "ok.example", "--http-allow", bad});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().path(), "--http-allow") << bad;
    EXPECT_NE(refused.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << refused.status().message();
  }
  FakeEnv()["BATCHD_HTTP_ALLOW"] = "ok.example,*";
  Result<ServeConfig> bad_env = Parse({});
  ASSERT_FALSE(bad_env.ok());
  EXPECT_EQ(bad_env.status().path(), "BATCHD_HTTP_ALLOW");
}

// Issue 12: --ca-file (and BATCHD_CA_FILE) must name a PEM file of CA certificates OpenSSL
// loads; anything else is refused at start naming the flag and the file.
TEST_F(ServeConfigTest, CaFileMustBeLoadable) {
  EXPECT_EQ(Parse({})->ca_file, "") << "the system's CA store by default";
  const std::string bundle = "/etc/ssl/certs/ca-certificates.crt";  // Debian's ca-certificates
  Result<ServeConfig> c = Parse({"--ca-file", bundle});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ca_file, bundle);
  for (const std::string bad : {"/nonexistent/ca.pem", "/etc/hostname", "/dev/null", ""}) {
    Result<ServeConfig> refused = Parse({"--ca-file", bad});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().path(), "--ca-file") << bad;
    EXPECT_NE(refused.status().message().find(bad), std::string::npos)
        << refused.status().message();
  }
  FakeEnv()["BATCHD_CA_FILE"] = "/dev/null";
  Result<ServeConfig> bad_env = Parse({});
  ASSERT_FALSE(bad_env.ok());
  EXPECT_EQ(bad_env.status().path(), "BATCHD_CA_FILE");
}

TEST_F(ServeConfigTest, PipelineLimitsAreCheckedAndNamed) {
  Result<ServeConfig> c =
      Parse({"--fetch-concurrency", "8", "--bytes-in-flight", "1048576", "--decode-threads", "3",
             "--http-max-in-flight", "16", "--checkpoint-interval-ms", "250",
             "--http-default-in-flight", "12", "--http-initial-in-flight", "6"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->fetch_concurrency, 8);
  EXPECT_EQ(c->bytes_in_flight, 1048576);
  EXPECT_EQ(c->decode_threads, 3);
  EXPECT_EQ(c->http_max_in_flight, 16);
  EXPECT_EQ(c->http_default_in_flight, 12);
  EXPECT_EQ(c->http_initial_in_flight, 6);
  EXPECT_EQ(Parse({})->http_initial_in_flight, 4);
  EXPECT_EQ(Parse({})->http_default_in_flight, 8) << "issue 12: a modest default";
  EXPECT_EQ(c->checkpoint_interval_ms, 250);
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--fetch-concurrency", "0"},
                                                        {"--bytes-in-flight", "100"},
                                                        {"--decode-threads", "x"},
                                                        {"--http-default-in-flight", "0"},
                                                        {"--http-initial-in-flight", "0"},
                                                        {"--checkpoint-interval-ms", "1"}}) {
    Result<ServeConfig> bad = Parse({flag, value});
    ASSERT_FALSE(bad.ok()) << flag;
    EXPECT_EQ(bad.status().path(), flag);
  }
}

}  // namespace
}  // namespace batchd::daemon

namespace batchd::daemon {
namespace {

TEST_F(ServeConfigTest, AccessAndLimitOptionsHaveTheirDefaultsFlagsAndVariables) {
  Result<ServeConfig> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->token_file.empty()) << "no authentication unless asked";
  EXPECT_TRUE(defaults->cors_origins.empty()) << "no foreign origin by default";
  EXPECT_EQ(defaults->max_header_bytes, 16384u);
  EXPECT_EQ(defaults->max_connections, 2048u);
  EXPECT_EQ(defaults->http_pipeline_limit, 8u);
  EXPECT_EQ(defaults->http_idle_timeout_ms, 60'000);
  EXPECT_EQ(defaults->max_active_batches, 10'000u);

  FakeEnv()["BATCHD_TOKEN_FILE"] = "/etc/batchd/tokens";
  FakeEnv()["BATCHD_CORS_ORIGINS"] = "https://a.example, http://localhost:3000";
  FakeEnv()["BATCHD_MAX_CONNECTIONS"] = "10";
  FakeEnv()["BATCHD_HTTP_IDLE_TIMEOUT_MS"] = "250";
  Result<ServeConfig> c =
      Parse({"--max-header-bytes", "4096", "--http-pipeline-limit=1", "--max-active-batches", "3"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->token_file, "/etc/batchd/tokens");
  EXPECT_EQ(c->cors_origins,
            (std::vector<std::string>{"https://a.example", "http://localhost:3000"}));
  EXPECT_EQ(c->max_connections, 10u);
  EXPECT_EQ(c->http_idle_timeout_ms, 250);
  EXPECT_EQ(c->max_header_bytes, 4096u);
  EXPECT_EQ(c->http_pipeline_limit, 1u);
  EXPECT_EQ(c->max_active_batches, 3u);

  // Flags replace the variable's origins.
  Result<ServeConfig> flags =
      Parse({"--cors-origin", "https://b.example", "--cors-origin=https://c.example:8443"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->cors_origins,
            (std::vector<std::string>{"https://b.example", "https://c.example:8443"}));

  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--max-header-bytes", "100"},
                                                        {"--max-connections", "0"},
                                                        {"--http-pipeline-limit", "0"},
                                                        {"--http-idle-timeout-ms", "10"},
                                                        {"--max-active-batches", "0"},
                                                        {"--token-file", ""},
                                                        {"--cors-origin", "https://x.example/"},
                                                        {"--cors-origin", "*"}}) {
    FakeEnv().clear();
    Result<ServeConfig> bad = Parse({flag, value});
    ASSERT_FALSE(bad.ok()) << flag << " " << value;
    EXPECT_EQ(bad.status().path(), flag) << bad.status().ToString();
  }
}

TEST_F(ServeConfigTest, MaxPageBytesHasItsDefaultFlagAndVariableAndBounds) {
  Result<ServeConfig> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->max_page_bytes, 4u << 20);
  FakeEnv()["BATCHD_MAX_PAGE_BYTES"] = "65536";
  Result<ServeConfig> env = Parse({});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->max_page_bytes, 65536u);
  Result<ServeConfig> flag = Parse({"--max-page-bytes", "1024"});
  ASSERT_TRUE(flag.ok()) << flag.status().ToString();
  EXPECT_EQ(flag->max_page_bytes, 1024u);
  for (const char* bad : {"1023", "0", "1073741825", "4k"}) {
    Result<ServeConfig> refused = Parse({"--max-page-bytes", bad});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().path(), "--max-page-bytes");
  }
}

TEST_F(ServeConfigTest, OnlyLoopbackMayBeServedWithoutATokenFile) {
  for (const char* listen : {"127.0.0.1:0", "127.1.2.3:80", "[::1]:8080", "[::ffff:127.0.0.1]:1"}) {
    EXPECT_TRUE(Parse({"--listen", listen}).ok()) << listen;
  }
  for (const char* listen :
       {"0.0.0.0:8080", "[::]:8080", "192.168.1.10:80", "10.0.0.1:1", "[::ffff:10.0.0.1]:1"}) {
    Result<ServeConfig> refused = Parse({"--listen", listen});
    ASSERT_FALSE(refused.ok()) << listen;
    EXPECT_EQ(refused.status().path(), "--listen");
    EXPECT_NE(refused.status().message().find("without --token-file"), std::string::npos)
        << refused.status().message();
    EXPECT_TRUE(Parse({"--listen", listen, "--token-file", "/etc/batchd/tokens"}).ok()) << listen;
  }
  FakeEnv()["BATCHD_LISTEN"] = "0.0.0.0:8080";
  EXPECT_FALSE(Parse({}).ok()) << "from the environment too";
  FakeEnv()["BATCHD_TOKEN_FILE"] = "/etc/batchd/tokens";
  EXPECT_TRUE(Parse({}).ok());
  EXPECT_FALSE(IsLoopbackAddress("localhost")) << "only numeric addresses are judged";
}

// Issue 12: the s3:// flags, their variables, and the values they refuse (naming the flag).
TEST_F(ServeConfigTest, S3FlagsAndTheirRefusals) {
  Result<ServeConfig> c = Parse({"--s3-endpoint", "http://127.0.0.1:9000", "--s3-region",
                                 "eu-west-1", "--s3-credentials", "/etc/batchd/aws", "--s3-profile",
                                 "prod", "--s3-anonymous", "no"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->s3_endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c->s3_region, "eu-west-1");
  EXPECT_EQ(c->s3_credentials, "/etc/batchd/aws");
  EXPECT_EQ(c->s3_profile, "prod");
  EXPECT_FALSE(c->s3_anonymous);
  FakeEnv()["BATCHD_S3_ANONYMOUS"] = "yes";
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_TRUE(Parse({})->s3_anonymous);
  EXPECT_EQ(Parse({})->s3_profile, "default");

  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"--s3-endpoint", "ftp://host"}, "--s3-endpoint"},
      {{"--s3-endpoint", "http://host/some/path"}, "--s3-endpoint"},
      {{"--s3-endpoint", "http://"}, "--s3-endpoint"},
      {{"--s3-region", "EU West"}, "--s3-region"},
      {{"--s3-anonymous", "maybe"}, "--s3-anonymous"},
      {{"--s3-profile", ""}, "--s3-profile"},
      {{"--s3-credentials", ""}, "--s3-credentials"},
  };
  for (const auto& [args, flag] : refused) {
    Result<ServeConfig> r = Parse(args);
    ASSERT_FALSE(r.ok()) << args[0] << " " << args[1];
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().path(), flag) << r.status().ToString();
  }
  const std::string help = ServeHelp();
  for (const char* s : {"--s3-endpoint", "BATCHD_S3_ENDPOINT", "--s3-region", "--s3-credentials",
                        "--s3-profile", "--s3-anonymous", "AWS_ACCESS_KEY_ID"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

TEST_F(ServeConfigTest, HelpMentionsTheAccessAndLimitFlags) {
  const std::string help = ServeHelp();
  for (const char* s : {"--token-file", "BATCHD_TOKEN_FILE", "--cors-origin", "BATCHD_CORS_ORIGINS",
                        "--max-header-bytes", "--max-connections", "--http-pipeline-limit",
                        "--http-idle-timeout-ms", "--max-active-batches", "SIGHUP"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace batchd::daemon

namespace batchd::daemon {
namespace {

TEST_F(ServeConfigTest, CommandOptionsHaveTheirDefaultsFlagsAndVariables) {
  Result<ServeConfig> d = Parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allow_commands.empty()) << "the command op is off by default";
  EXPECT_EQ(d->kill_grace_ms, 5000);
  EXPECT_EQ(d->command_rlimit_as, 0u);
  EXPECT_EQ(d->command_rlimit_cpu, 0u);
  EXPECT_EQ(d->command_rlimit_nofile, 1024u);
  EXPECT_EQ(d->log_bytes_per_session, 8u << 20);

  FakeEnv()["BATCHD_ALLOW_COMMANDS"] = "/bin/sh:/usr/bin";
  Result<ServeConfig> env =
      Parse({"--kill-grace-ms", "250", "--command-rlimit-as", "1073741824", "--command-rlimit-cpu",
             "60", "--command-rlimit-nofile", "0", "--log-bytes-per-session", "65536",
             "--log-follow-wait-ms", "1500"});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->allow_commands, (std::vector<std::string>{"/bin/sh", "/usr/bin"}));
  EXPECT_EQ(env->kill_grace_ms, 250);
  EXPECT_EQ(env->command_rlimit_as, 1u << 30);
  EXPECT_EQ(env->command_rlimit_cpu, 60u);
  EXPECT_EQ(env->command_rlimit_nofile, 0u);
  EXPECT_EQ(env->log_bytes_per_session, 65536u);
  EXPECT_EQ(env->log_follow_wait_ms, 1500);
  // The flags together replace the variable's list.
  Result<ServeConfig> flags =
      Parse({"--allow-command", "/usr/bin/python3", "--allow-command=/bin"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->allow_commands, (std::vector<std::string>{"/usr/bin/python3", "/bin"}));
}

TEST_F(ServeConfigTest, BadCommandOptionsAreRefusedNamingTheFlag) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--allow-command", "bin/sh"},
        {"--allow-command", "/nonexistent/prog"},
        {"--allow-command", "/etc/passwd"},  // neither a directory nor executable
        {"--command-rlimit-nofile", "3"},
        {"--log-bytes-per-session", "10"},
        {"--kill-grace-ms", "-1"},
        {"--log-follow-wait-ms", "0"}}) {
    Result<ServeConfig> c = Parse(args);
    ASSERT_FALSE(c.ok()) << args[0] << " " << args[1];
    EXPECT_EQ(c.status().path(), args[0]) << c.status().ToString();
  }
}

TEST_F(ServeConfigTest, HelpMentionsTheCommandFlags) {
  const std::string help = ServeHelp();
  for (const char* s :
       {"--allow-command", "BATCHD_ALLOW_COMMANDS", "--kill-grace-ms", "--command-rlimit-as",
        "--command-rlimit-cpu", "--command-rlimit-nofile", "--log-bytes-per-session",
        "BATCHD_LOG_BYTES_PER_SESSION", "--log-follow-wait-ms", "BATCHD_LOG_FOLLOW_WAIT_MS"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace batchd::daemon

namespace batchd::daemon {
namespace {

class StoreConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { FakeEnv().clear(); }
  Result<ServeConfig> Parse(std::vector<std::string> args) {
    return ParseServeArgs(args, FakeGetenv);
  }
};

TEST_F(StoreConfigTest, TheEmbeddedStoreIsTheDefaultAndPostgresIsChosenByUri) {
  Result<ServeConfig> plain = Parse({});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->store, "");
  EXPECT_EQ(plain->node_timeout_ms, 10'000);
  EXPECT_EQ(plain->node_heartbeat_ms, 1000);
  FakeEnv()["BATCHD_STORE"] = "postgresql://batchd@127.0.0.1:5432/a";
  Result<ServeConfig> env = Parse({});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->store, "postgresql://batchd@127.0.0.1:5432/a");
  Result<ServeConfig> flag = Parse({"--store", "postgres://u@h/b", "--node-name", "n1",
                                    "--node-timeout-ms", "3000", "--node-heartbeat-ms", "200"});
  ASSERT_TRUE(flag.ok()) << flag.status().message();
  EXPECT_EQ(flag->store, "postgres://u@h/b");
  EXPECT_EQ(flag->node_name, "n1");
  EXPECT_EQ(flag->node_timeout_ms, 3000);
  EXPECT_EQ(flag->node_heartbeat_ms, 200);
}

TEST_F(StoreConfigTest, BadStoreSettingsNameTheirFlag) {
  Result<ServeConfig> mysql = Parse({"--store", "mysql://x/y"});
  ASSERT_FALSE(mysql.ok());
  EXPECT_EQ(mysql.status().path(), "--store");
  Result<ServeConfig> slow_beat =
      Parse({"--node-timeout-ms", "1000", "--node-heartbeat-ms", "1000"});
  ASSERT_FALSE(slow_beat.ok());
  EXPECT_EQ(slow_beat.status().path(), "--node-heartbeat-ms");
  Result<ServeConfig> tiny = Parse({"--node-timeout-ms", "10"});
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.status().path(), "--node-timeout-ms");
  Result<ServeConfig> empty_name = Parse({"--node-name", ""});
  ASSERT_FALSE(empty_name.ok());
  EXPECT_EQ(empty_name.status().path(), "--node-name");
}

}  // namespace
}  // namespace batchd::daemon
