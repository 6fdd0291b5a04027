// zarr v3 sharding end to end (issue 12): sharded arrays built from the sharding_indexed spec
// by tests/e2e/make_zarr_sharded.py (index at the end with its CRC-32C, inner chunks and whole
// shards missing; index at the start) give numpy's stats exactly over file://, http://,
// https:// (nginx with a test CA's certificate) and s3:// (s3rver, the arrays uploaded by
// boto3), the same to the last bit; zarrita (tests/zarrita, an implementation independent of
// batchd) reads the end-index array to the same numbers, so the fixture is what the spec means.
// A session of one inner chunk costs nginx, and s3rver, two range requests (the index, the
// chunk); a damaged shard is a permanent session error naming the shard key.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/nginx_server.h"
#include "tests/support/s3rver_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/test_certificates.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

class ShardingTest : public DaemonTest {
 protected:
  void SetUp() override {
    for (const auto& [name, args] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"end",
              {"--shape", "37,53", "--shards", "16,32", "--chunks", "8,16", "--index-crc32c",
               "--inner-crc32c", "--drop-inner", "1", "--drop-shards", "1", "--fill-value", "3"}},
             {"start",
              {"--shape", "41,30", "--shards", "12,10", "--chunks", "4,5", "--dtype", "int16",
               "--index-location", "start", "--drop-inner", "2"}}}) {
      std::vector<std::string> command = {kSystemPython,
                                          (E2eScriptsDir() / "make_zarr_sharded.py").string(),
                                          (root_.path() / name).string()};
      command.insert(command.end(), args.begin(), args.end());
      ASSERT_OK_AND_ASSIGN(oracles_[name], RunJsonCommand(command));
    }
    NginxOptions options;
    options.document_root = root_.path();
    options.access_log = true;
    ASSERT_OK_AND_ASSIGN(nginx_, NginxServer::Start(options));
    ASSERT_OK_AND_ASSIGN(certs_, TestCertificates::Make());
    NginxOptions tls;
    tls.document_root = root_.path();
    tls.tls = NginxTls{.cert = certs_->valid().cert, .key = certs_->valid().key};
    ASSERT_OK_AND_ASSIGN(https_, NginxServer::Start(tls));
    ASSERT_OK_AND_ASSIGN(s3rver_, S3rverServer::Start());
    for (const auto& [name, oracle] : oracles_) {
      ASSERT_OK(RunS3Client(
          *s3rver_, {"upload-dir", "data", "sharded/" + name, (root_.path() / name).string()}));
    }
    const std::filesystem::path keys = keys_.path() / "credentials";
    std::ofstream(keys) << "[default]\naws_access_key_id = " << s3rver_->options().access_key_id
                        << "\naws_secret_access_key = " << s3rver_->options().secret_access_key
                        << "\n";
    ASSERT_NO_FATAL_FAILURE(StartDaemon(
        {"--file-root", root_.path().string(), "--http-allow",
         "127.0.0.1:" + std::to_string(nginx_->port()), "--http-allow",
         "127.0.0.1:" + std::to_string(https_->port()), "--http-allow",
         "127.0.0.1:" + std::to_string(s3rver_->port()), "--ca-file", certs_->ca_cert().string(),
         "--s3-endpoint", s3rver_->Endpoint(), "--s3-credentials", keys.string()}));
  }

  void TearDown() override {
    DaemonTest::TearDown();
    for (NginxServer* server : {nginx_.get(), https_.get()}) {
      if (server == nullptr) continue;
      const Status stopped = server->Stop();
      EXPECT_TRUE(stopped.ok()) << stopped.ToString();
    }
    if (s3rver_) {
      const Status stopped = s3rver_->Stop();
      EXPECT_TRUE(stopped.ok()) << stopped.ToString();
    }
  }

  // Runs one stats session on `url` (with `region` if not null) and returns the session.
  nlohmann::json RunStats(const std::string& url, const nlohmann::json& region,
                          const std::string& end_state) {
    nlohmann::json source = {{"op", "stats"}, {"source", {{"url", url}}}};
    if (!region.is_null()) source["region"] = region;
    nlohmann::json batch = {{"name", "sharded"}, {"template", source}};
    Result<std::string> id = SubmitBatch(client(), batch);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return nullptr;
    Result<nlohmann::json> done = WaitForBatchState(client(), *id, end_state, kBatchTimeout);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    if (!ids.ok() || ids->size() != 1) return nullptr;
    Result<nlohmann::json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string((*ids)[0]));
    return s.ok() ? *s : nullptr;
  }

  // The GET requests of `log` (an access log of "METHOD URI STATUS ..." lines; s3rver's also
  // has the uploads' PUTs) whose URI starts with `prefix`, as "METHOD URI STATUS" plus the next
  // column (s3rver's Range header) if `with_range`; once there are at least `count` (a server logs
  // a request as its answer goes out, so the line may come just after the daemon saw it), or after
  // a guard of 20 s.
  static std::vector<std::string> RequestsUnder(const std::filesystem::path& log_path,
                                                const std::string& prefix, size_t count,
                                                bool with_range) {
    std::vector<std::string> requests;
    for (int wait = 0; wait < 2000 && requests.size() < count; ++wait) {
      if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::ifstream log(log_path);
      requests.clear();
      for (std::string line; std::getline(log, line);) {
        std::istringstream fields(line);
        std::string method, uri, status, range;
        fields >> method >> uri >> status >> range;
        if (method != "GET" || !uri.starts_with(prefix)) continue;
        requests.push_back(method + " " + uri + " " + status + (with_range ? " " + range : ""));
      }
    }
    return requests;
  }

  TempDir root_;
  TempDir keys_;
  std::map<std::string, nlohmann::json> oracles_;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<TestCertificates> certs_;
  std::unique_ptr<NginxServer> https_;
  std::unique_ptr<S3rverServer> s3rver_;
};

TEST_F(ShardingTest, ZarritaReadsTheSpecBuiltArrayAsNumpyDoes) {
  ASSERT_OK_AND_ASSIGN(
      nlohmann::json zarrita,
      RunJsonCommand({"node", std::string(BATCHD_SOURCE_DIR) + "/tests/zarrita/read_stats.mjs",
                      (root_.path() / "end").string()}));
  const nlohmann::json& oracle = oracles_["end"];
  EXPECT_EQ(zarrita["count"], oracle["count"]);
  EXPECT_EQ(zarrita["min"], oracle["min"]);
  EXPECT_EQ(zarrita["max"], oracle["max"]);
  EXPECT_EQ(zarrita["sum"].get<double>(), oracle["sum"].get<double>());
}

TEST_F(ShardingTest, StatsOverFileHttpHttpsAndS3EqualNumpysExactly) {
  for (const std::string name : {"end", "start"}) {
    SCOPED_TRACE(name);
    nlohmann::json by_file = RunStats(FileUrl(root_.path() / name), nullptr, "completed");
    ASSERT_TRUE(by_file.is_object());
    EXPECT_EQ(StatsMismatch(by_file["result"], oracles_[name]), "");
    for (const std::string& url :
         {nginx_->Url("/" + name), https_->Url("/" + name), "s3://data/sharded/" + name}) {
      SCOPED_TRACE(url);
      nlohmann::json by_remote = RunStats(url, nullptr, "completed");
      ASSERT_TRUE(by_remote.is_object());
      EXPECT_EQ(by_remote["result"], by_file["result"]) << "exactly, to the last bit";
      EXPECT_EQ(by_remote["progress"]["chunks_total"], by_file["progress"]["chunks_total"]);
    }
    EXPECT_EQ(by_file["result"]["sum"].get<double>(), oracles_[name]["sum"].get<double>());
    // Progress counts inner chunks: 5x4 of them for the end array, 11x6 for the start one.
    EXPECT_EQ(by_file["progress"]["chunks_total"], name == "end" ? 20 : 66) << by_file.dump();
  }
}

TEST_F(ShardingTest, OneInnerChunkCostsTheIndexAndThatChunkOnly) {
  // Inner chunk (2, 1) of the end array: shard c/1/0 (shard c/0/0 is the missing one).
  nlohmann::json s = RunStats(nginx_->Url("/end"), {{2, 3}, {1, 2}}, "completed");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["result"]["count"], 8 * 16) << s.dump();
  // Metadata probes (.zarray, then zarr.json) aside: the shards' requests.
  EXPECT_EQ(RequestsUnder(nginx_->AccessLogPath(), "/end/c/", 2, false),
            (std::vector<std::string>{"GET /end/c/1/0 206", "GET /end/c/1/0 206"}));
}

TEST_F(ShardingTest, OneInnerChunkOverS3CostsTheIndexAndThatChunkOnly) {
  // As above, over s3://: s3rver's log shows the Range of each request.
  nlohmann::json s = RunStats("s3://data/sharded/end", {{2, 3}, {1, 2}}, "completed");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["result"]["count"], 8 * 16) << s.dump();
  const std::vector<std::string> requests =
      RequestsUnder(s3rver_->AccessLogPath(), "/data/sharded/end/c/", 2, true);
  ASSERT_EQ(requests.size(), 2u) << ::testing::PrintToString(requests);
  // The index: 2x2 inner chunks of 16 bytes (offset, length) each and its CRC-32C.
  EXPECT_EQ(requests[0], "GET /data/sharded/end/c/1/0 206 bytes=-68");
  // Then one inner chunk: a range of the shard shorter than the whole shard.
  const std::string prefix = "GET /data/sharded/end/c/1/0 206 bytes=";
  ASSERT_TRUE(requests[1].starts_with(prefix)) << requests[1];
  const std::string range = requests[1].substr(prefix.size());
  const size_t dash = range.find('-');
  ASSERT_NE(dash, std::string::npos) << range;
  ASSERT_GT(dash, 0u) << "an absolute range, not the last bytes again: " << range;
  const uint64_t first = std::stoull(range.substr(0, dash));
  const uint64_t last = std::stoull(range.substr(dash + 1));
  const uint64_t shard_bytes = std::filesystem::file_size(root_.path() / "end" / "c" / "1" / "0");
  EXPECT_LT(last - first + 1, shard_bytes - 68) << range;
  EXPECT_LT(last, shard_bytes - 68) << "within the chunks, before the index: " << range;
}

TEST_F(ShardingTest, ADamagedShardIsAPermanentErrorNamingIt) {
  // A flipped byte in shard c/1/1's index (its last bytes): its CRC-32C no longer matches.
  const auto shard = root_.path() / "end" / "c" / "1" / "1";
  std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-10, std::ios::end);
  const char c = static_cast<char>(f.get());
  f.seekp(-10, std::ios::end);
  f.put(static_cast<char>(c ^ 0x40));
  f.close();
  for (const std::string& url : {FileUrl(root_.path() / "end"), nginx_->Url("/end")}) {
    SCOPED_TRACE(url);
    nlohmann::json s = RunStats(url, nullptr, "failed");
    ASSERT_TRUE(s.is_object());
    EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
    const std::string message = s["error"]["message"];
    EXPECT_NE(message.find("shard \"c/1/1\""), std::string::npos) << message;
    EXPECT_NE(message.find("CRC-32C"), std::string::npos) << message;
    EXPECT_TRUE(s["result"].is_null());
  }
}

}  // namespace
}  // namespace batchd::testing
