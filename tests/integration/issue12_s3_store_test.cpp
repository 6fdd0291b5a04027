// Issue 12, acceptance 3: s3:// end to end against a real S3-protocol server that verifies
// SigV4 signatures (s3rver on loopback), with the data uploaded and read back by an independent
// client (boto3): stats over s3:// equal numpy's (and the file store's); transcode to s3://
// gives an array zarr-python reads equal to the source once boto3 downloaded it; keys from the
// daemon's environment work too; a wrong secret fails the session permanently naming 403, and
// the secret is nowhere in the daemon's log, its REST answers or its events.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <map>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/s3rver_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class S3StoreEndToEndTest : public DaemonTest {
 protected:
  static void SetUpTestSuite() {
    auto server = S3rverServer::Start({.secret_access_key = kSecret, .buckets = {"data"}});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = server->release();
    arrays_ = new TempDir();
    specs_ = new std::vector<ArraySpec>{
        {arrays_->path() / "zstd",
         {"--shape", "70,45", "--chunks", "16,16", "--compressor", "zstd"}},
        {arrays_->path() / "blosc",
         {"--shape", "70,45", "--chunks", "16,16", "--compressor", "blosc-lz4", "--dtype", ">f8",
          "--separator", "/", "--drop-chunks", "3"}},
        {arrays_->path() / "v3", {"--shape", "33,65", "--chunks", "8,8", "--dtype", "int16"}, true},
    };
    auto oracles = MakeArrays(*specs_);
    ASSERT_TRUE(oracles.ok()) << oracles.status().ToString();
    oracles_ = new std::vector<nlohmann::json>(std::move(*oracles));
    for (const ArraySpec& s : *specs_) {
      Status uploaded = RunS3Client(
          *server_,
          {"upload-dir", "data", "arrays/" + s.path.filename().string(), s.path.string()});
      ASSERT_TRUE(uploaded.ok()) << uploaded.ToString();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    delete specs_;
    delete oracles_;
    delete arrays_;
    server_ = nullptr;
  }

  // Writes an ini credentials file with `secret` under the profile "test" and starts the daemon
  // with it.
  void StartWithSecret(const std::string& secret) {
    const std::filesystem::path file = keys_dir_.path() / "credentials";
    std::ofstream(file) << "[default]\naws_access_key_id = WRONG\naws_secret_access_key = x\n"
                        << "[profile test]\naws_access_key_id = "
                        << server_->options().access_key_id
                        << "\naws_secret_access_key = " << secret << "\n";
    ASSERT_NO_FATAL_FAILURE(
        StartDaemon(BaseArgs({"--s3-credentials", file.string(), "--s3-profile", "test"})));
  }

  std::vector<std::string> BaseArgs(std::vector<std::string> more) {
    std::vector<std::string> args = {
        "--file-root",   arrays_->path().string(),
        "--http-allow",  "127.0.0.1:" + std::to_string(server_->port()),
        "--s3-endpoint", server_->Endpoint()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  static std::string S3Url(const ArraySpec& s) {
    return "s3://data/arrays/" + s.path.filename().string();
  }

  nlohmann::json StatsBatch(const std::vector<std::string>& urls) {
    return {{"name", "stats"},
            {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
            {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
  }

  // Runs `batch` to `state` and returns each session's resource by its /source/url value (or
  // "session ID" for a batch without that field).
  std::map<std::string, nlohmann::json> SessionsByUrl(const nlohmann::json& batch,
                                                      const std::string& state) {
    std::map<std::string, nlohmann::json> out;
    Result<std::string> id = SubmitBatch(client(), batch);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return out;
    Result<nlohmann::json> done = WaitForBatchState(client(), *id, state, kBatchTimeout);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    answers_ += done.ok() ? done->dump() : "";
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    if (!ids.ok()) return out;
    for (int64_t sid : *ids) {
      Result<nlohmann::json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string(sid));
      if (!s.ok()) continue;
      answers_ += s->dump();
      const nlohmann::json& url = (*s)["values"]["/source/url"];
      out[url.is_string() ? url.get<std::string>() : "session " + std::to_string(sid)] = *s;
    }
    return out;
  }

  // The secret must be in none of: the daemon's log, the REST answers seen, the event log.
  void ExpectSecretNowhere(const std::string& secret) {
    ASSERT_OK_AND_ASSIGN(nlohmann::json events, GetJson(client(), "/api/v1/events?since=0"));
    ASSERT_OK_AND_ASSIGN(nlohmann::json batches, GetJson(client(), "/api/v1/batches"));
    const std::string log = ReadWholeFile(daemon().log_path());
    EXPECT_FALSE(log.empty());
    EXPECT_EQ(log.find(secret), std::string::npos) << "the secret is in the daemon's log";
    EXPECT_EQ(answers_.find(secret), std::string::npos) << "the secret is in a REST answer";
    EXPECT_EQ(events.dump().find(secret), std::string::npos) << "the secret is in an event";
    EXPECT_EQ(batches.dump().find(secret), std::string::npos);
  }

  static constexpr const char* kSecret = "s3cr3t/Value+with=signs";
  static S3rverServer* server_;
  static TempDir* arrays_;
  static std::vector<ArraySpec>* specs_;
  static std::vector<nlohmann::json>* oracles_;
  TempDir keys_dir_;
  std::string answers_;  // every REST answer the test read, for the secret grep
};

S3rverServer* S3StoreEndToEndTest::server_ = nullptr;
TempDir* S3StoreEndToEndTest::arrays_ = nullptr;
std::vector<ArraySpec>* S3StoreEndToEndTest::specs_ = nullptr;
std::vector<nlohmann::json>* S3StoreEndToEndTest::oracles_ = nullptr;

TEST_F(S3StoreEndToEndTest, StatsOverS3EqualNumpysAndTheFileStores) {
  ASSERT_NO_FATAL_FAILURE(StartWithSecret(kSecret));
  std::vector<std::string> file_urls, s3_urls;
  for (const ArraySpec& s : *specs_) {
    file_urls.push_back(FileUrl(s.path));
    s3_urls.push_back(S3Url(s));
  }
  auto by_file = SessionsByUrl(StatsBatch(file_urls), "completed");
  auto by_s3 = SessionsByUrl(StatsBatch(s3_urls), "completed");
  ASSERT_EQ(by_s3.size(), specs_->size());
  for (size_t i = 0; i < specs_->size(); ++i) {
    SCOPED_TRACE(s3_urls[i]);
    EXPECT_EQ(StatsMismatch(by_s3[s3_urls[i]]["result"], (*oracles_)[i]), "");
    EXPECT_EQ(by_s3[s3_urls[i]]["result"], by_file[file_urls[i]]["result"]) << "to the last bit";
  }
  ExpectSecretNowhere(kSecret);
}

TEST_F(S3StoreEndToEndTest, TranscodeToS3IsReadBackByZarrPythonEqual) {
  ASSERT_NO_FATAL_FAILURE(StartWithSecret(kSecret));
  nlohmann::json batch = {
      {"name", "to s3"},
      {"template",
       {{"op", "transcode"},
        {"source", {{"url", S3Url((*specs_)[1])}}},
        {"sink", {{"url", "s3://data/out/blosc-as-zstd"}, {"codec", {{"id", "zstd"}}}}}}}};
  auto sessions = SessionsByUrl(batch, "completed");
  ASSERT_EQ(sessions.size(), 1u);
  TempDir downloaded;
  ASSERT_OK(RunS3Client(*server_,
                        {"download-dir", "data", "out/blosc-as-zstd", downloaded.path().string()}));
  ASSERT_OK_AND_ASSIGN(nlohmann::json cmp, CompareArrays((*specs_)[1].path, downloaded.path()));
  EXPECT_EQ(cmp["equal"], true) << cmp.dump();
  EXPECT_EQ(cmp["actual"]["compressor"]["id"], "zstd");
  ExpectSecretNowhere(kSecret);
}

TEST_F(S3StoreEndToEndTest, ShardedTranscodeToS3IsReadBackByZarritaEqual) {
  // Each shard is one PUT (atomic on S3): 5 x 3 chunks of 16 x 16 in shards of 2 x 2 chunks.
  ASSERT_NO_FATAL_FAILURE(StartWithSecret(kSecret));
  nlohmann::json batch = {{"name", "sharded to s3"},
                          {"template",
                           {{"op", "transcode"},
                            {"source", {{"url", S3Url((*specs_)[1])}}},
                            {"sink",
                             {{"url", "s3://data/out/blosc-sharded"},
                              {"codec", {{"id", "zstd"}}},
                              {"shards", {32, 32}}}}}}};
  auto sessions = SessionsByUrl(batch, "completed");
  ASSERT_EQ(sessions.size(), 1u);
  const nlohmann::json& result = sessions.begin()->second["result"];
  EXPECT_EQ(result["chunks_written"], 15 - 3) << result.dump();
  TempDir downloaded;
  ASSERT_OK(RunS3Client(*server_,
                        {"download-dir", "data", "out/blosc-sharded", downloaded.path().string()}));
  ASSERT_OK_AND_ASSIGN(nlohmann::json cmp,
                       CompareWithZarrita((*specs_)[1].path, downloaded.path()));
  EXPECT_EQ(cmp["equal"], true) << cmp.dump();
  // batchd reads its sharded output back over s3:// to numpy's numbers.
  auto by_s3 = SessionsByUrl(StatsBatch({"s3://data/out/blosc-sharded"}), "completed");
  ASSERT_EQ(by_s3.size(), 1u);
  EXPECT_EQ(StatsMismatch(by_s3.begin()->second["result"], (*oracles_)[1]), "");
  ExpectSecretNowhere(kSecret);
}

TEST_F(S3StoreEndToEndTest, KeysFromTheDaemonsEnvironment) {
  ::setenv("AWS_ACCESS_KEY_ID", server_->options().access_key_id.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", kSecret, 1);
  ::setenv("AWS_SESSION_TOKEN", "env-session-token-1234", 1);
  StartDaemon(BaseArgs({}));
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_SESSION_TOKEN");
  ASSERT_FALSE(HasFatalFailure());
  auto sessions = SessionsByUrl(StatsBatch({S3Url((*specs_)[0])}), "completed");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(StatsMismatch(sessions.begin()->second["result"], (*oracles_)[0]), "");
  ExpectSecretNowhere(kSecret);
  ExpectSecretNowhere("env-session-token-1234");
}

TEST_F(S3StoreEndToEndTest, AWrongSecretIsAPermanentSessionErrorNaming403) {
  const std::string wrong = "wrong-Secret-9b1f7c";
  ASSERT_NO_FATAL_FAILURE(StartWithSecret(wrong));
  auto sessions = SessionsByUrl(StatsBatch({S3Url((*specs_)[0])}), "failed");
  ASSERT_EQ(sessions.size(), 1u);
  const nlohmann::json& s = sessions.begin()->second;
  EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
  const std::string message = s["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("403"), std::string::npos) << message;
  EXPECT_NE(message.find("SignatureDoesNotMatch"), std::string::npos) << message;
  EXPECT_NE(message.find("s3://data/arrays/zstd/"), std::string::npos) << message;
  ExpectSecretNowhere(wrong);
}

}  // namespace
}  // namespace batchd::testing
