// End to end over http://: the same arrays served by a real nginx give exactly the results the
// file store gives (and numpy's), and transcode writes through HTTP PUT an array zarr-python
// reads back.
#include <gtest/gtest.h>

#include <map>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/nginx_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

// Runs `batch` to its end and returns each session's result by its /source/url value.
std::map<std::string, nlohmann::json> ResultsByUrl(HttpClient& client,
                                                   const nlohmann::json& batch) {
  std::map<std::string, nlohmann::json> out;
  Result<std::string> id = SubmitBatch(client, batch);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  if (!id.ok()) return out;
  Result<nlohmann::json> done = WaitForBatchState(client, *id, "completed", kBatchTimeout);
  EXPECT_TRUE(done.ok()) << done.status().ToString();
  Result<std::vector<int64_t>> ids = SessionIdsOf(client, *id);
  if (!ids.ok()) return out;
  for (int64_t sid : *ids) {
    Result<nlohmann::json> s = GetJson(client, "/api/v1/sessions/" + std::to_string(sid));
    if (s.ok()) out[(*s)["values"]["/source/url"].get<std::string>()] = (*s)["result"];
  }
  return out;
}

class PipelineHttpTest : public DaemonTest {
 protected:
  void SetUp() override {
    specs_ = {
        {root_.path() / "zstd", {"--shape", "70,45", "--chunks", "16,16", "--compressor", "zstd"}},
        {root_.path() / "blosc",
         {"--shape", "70,45", "--chunks", "16,16", "--compressor", "blosc-lz4", "--dtype", ">f8",
          "--separator", "/", "--drop-chunks", "3"}},
        {root_.path() / "v3", {"--shape", "33,65", "--chunks", "8,8", "--dtype", "int16"}, true},
    };
    ASSERT_OK_AND_ASSIGN(oracles_, MakeArrays(specs_));
    NginxOptions options;
    options.document_root = root_.path();
    ASSERT_OK_AND_ASSIGN(nginx_, NginxServer::Start(options));
    ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root_.path().string(), "--http-allow",
                                         "127.0.0.1:" + std::to_string(nginx_->port())}));
  }

  nlohmann::json StatsBatch(const std::vector<std::string>& urls) {
    return {{"name", "stats"},
            {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
            {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
  }

  TempDir root_;
  std::vector<ArraySpec> specs_;
  std::vector<nlohmann::json> oracles_;
  std::unique_ptr<NginxServer> nginx_;
};

TEST_F(PipelineHttpTest, StatsOverHttpEqualTheFileStoresAndNumpys) {
  std::vector<std::string> file_urls, http_urls;
  for (const ArraySpec& s : specs_) {
    file_urls.push_back(FileUrl(s.path));
    http_urls.push_back(nginx_->Url("/" + s.path.filename().string()));
  }
  std::map<std::string, nlohmann::json> by_file = ResultsByUrl(client(), StatsBatch(file_urls));
  std::map<std::string, nlohmann::json> by_http = ResultsByUrl(client(), StatsBatch(http_urls));
  ASSERT_EQ(by_http.size(), specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    SCOPED_TRACE(http_urls[i]);
    EXPECT_EQ(by_http[http_urls[i]], by_file[file_urls[i]]) << "exactly, to the last bit";
    EXPECT_EQ(StatsMismatch(by_http[http_urls[i]], oracles_[i]), "");
  }
}

TEST_F(PipelineHttpTest, TranscodeWritesThroughHttpPut) {
  nlohmann::json batch = {
      {"name", "to nginx"},
      {"template",
       {{"op", "transcode"},
        {"source", {{"url", nginx_->Url("/blosc")}}},
        {"sink", {{"url", nginx_->Url("/out/blosc-as-zstd")}, {"codec", {{"id", "zstd"}}}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(nlohmann::json cmp,
                       CompareArrays(specs_[1].path, root_.path() / "out" / "blosc-as-zstd"));
  EXPECT_EQ(cmp["equal"], true) << cmp.dump();
  EXPECT_EQ(cmp["actual"]["compressor"]["id"], "zstd");
}

TEST_F(PipelineHttpTest, AMissingArrayOverHttpIsAClearPermanentError) {
  nlohmann::json batch = StatsBatch({nginx_->Url("/no-such-array")});
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "failed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                       GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[0])));
  EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
  EXPECT_NE(s["error"]["message"].get<std::string>().find("no-such-array"), std::string::npos)
      << s.dump();
}

}  // namespace
}  // namespace batchd::testing
