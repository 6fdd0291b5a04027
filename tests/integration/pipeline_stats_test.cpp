// End to end: the real daemon computes `stats` over arrays written by the real zarr-python,
// and every figure equals numpy's (the oracle make_zarr.py prints): every compressor zarr v2
// users meet, several dtypes in both byte orders, both dimension separators, shapes that do
// not divide into chunks, missing chunks, zarr v3, and regions of one array split over the
// sessions of a batch.
#include <gtest/gtest.h>

#include <map>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

class PipelineStatsTest : public DaemonTest {
 protected:
  const std::filesystem::path& root() const { return arrays_.path(); }

  void StartWithRoot(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--file-root", root().string()});
    ASSERT_NO_FATAL_FAILURE(StartDaemon(std::move(extra)));
  }

  // Runs one stats batch over `urls` (one session each) and returns each session's detail by
  // its source URL.
  std::map<std::string, nlohmann::json> RunStats(const std::vector<std::string>& urls,
                                                 const std::string& expected_state = "completed") {
    nlohmann::json batch = {{"name", "stats"},
                            {"template", {{"op", "stats"}, {"source", {{"url", urls.front()}}}}},
                            {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
    Result<std::string> id = SubmitBatch(client(), batch);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    Result<nlohmann::json> done = WaitForBatch(
        client(), *id,
        [](const nlohmann::json& b) {
          const std::string s = b["state"];
          return s == "completed" || s == "failed" || s == "canceled";
        },
        kBatchTimeout, "the stats batch to finish");
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    if (!done.ok()) return {};
    EXPECT_EQ((*done)["state"], expected_state) << done->dump();
    std::map<std::string, nlohmann::json> by_url;
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    if (!ids.ok()) return {};
    for (int64_t sid : *ids) {
      Result<HttpResponse> r = client().Get("/api/v1/sessions/" + std::to_string(sid));
      EXPECT_TRUE(r.ok() && r->status == 200);
      if (!r.ok()) continue;
      nlohmann::json s = r->Json();
      by_url[s["values"]["/source/url"].get<std::string>()] = s;
    }
    return by_url;
  }

 private:
  TempDir arrays_;
};

TEST_F(PipelineStatsTest, EqualsNumpyForEveryCompressorDtypeAndSeparator) {
  std::vector<ArraySpec> specs;
  int n = 0;
  for (const char* compressor : {"none", "zstd", "lz4", "blosc-lz4", "blosc-zstd"}) {
    for (const char* dtype : {"<f4", ">f8", "<i2", "|u1"}) {
      for (const char* separator : {".", "/"}) {
        ArraySpec spec;
        spec.path = root() / ("a" + std::to_string(n));
        // Shapes that do not divide into the chunks; every third array misses two chunks.
        spec.args = {"--shape",     "37,53",   "--chunks",     "8,16",
                     "--dtype",     dtype,     "--compressor", compressor,
                     "--separator", separator, "--seed",       std::to_string(n)};
        if (n % 3 == 0) spec.args.insert(spec.args.end(), {"--drop-chunks", "2"});
        specs.push_back(spec);
        ++n;
      }
    }
  }
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  ASSERT_NO_FATAL_FAILURE(StartWithRoot());
  std::vector<std::string> urls;
  for (const ArraySpec& s : specs) urls.push_back(FileUrl(s.path));
  std::map<std::string, nlohmann::json> sessions = RunStats(urls);
  ASSERT_EQ(sessions.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const nlohmann::json& s = sessions[urls[i]];
    SCOPED_TRACE(urls[i] + " " + oracles[i].dump());
    ASSERT_EQ(s["state"], "completed") << s.dump();
    EXPECT_EQ(StatsMismatch(s["result"], oracles[i]), "");
    EXPECT_EQ(s["progress"]["chunks_done"], 5 * 4);
    EXPECT_EQ(s["progress"]["chunks_total"], 5 * 4);
  }
}

// zlib, gzip and bz2 chunks, and blosc with each shuffle (none, byte, bit), as zarr-python
// writes them (tests/e2e/make_zarr_codecs.py): numpy's figures, every chunk decoded.
TEST_F(PipelineStatsTest, EqualsNumpyForZlibGzipBz2AndEveryBloscShuffle) {
  std::vector<std::filesystem::path> paths;
  std::vector<nlohmann::json> oracles;
  int n = 0;
  for (const char* compressor :
       {"zlib", "gzip", "bz2", "blosc-noshuffle", "blosc-shuffle", "blosc-bitshuffle"}) {
    for (const char* dtype : {"<f4", ">f8", "<i2"}) {
      paths.push_back(root() / ("c" + std::to_string(n)));
      ASSERT_OK_AND_ASSIGN(
          nlohmann::json oracle,
          RunJsonCommand({kSystemPython, (E2eScriptsDir() / "make_zarr_codecs.py").string(),
                          paths.back().string(), "--compressor", compressor, "--dtype", dtype,
                          "--seed", std::to_string(n)}));
      oracles.push_back(oracle);
      ++n;
    }
  }
  ASSERT_NO_FATAL_FAILURE(StartWithRoot());
  std::vector<std::string> urls;
  for (const auto& path : paths) urls.push_back(FileUrl(path));
  std::map<std::string, nlohmann::json> sessions = RunStats(urls);
  ASSERT_EQ(sessions.size(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const nlohmann::json& s = sessions[urls[i]];
    SCOPED_TRACE(urls[i] + " " + oracles[i].dump());
    ASSERT_EQ(s["state"], "completed") << s.dump();
    EXPECT_EQ(StatsMismatch(s["result"], oracles[i]), "");
    EXPECT_EQ(s["progress"]["chunks_done"], 5 * 4);
  }
}

TEST_F(PipelineStatsTest, ZarrV3ArraysWithZstdChunks) {
  std::vector<ArraySpec> specs = {
      {root() / "v3a", {"--shape", "37,53", "--chunks", "8,16"}, true},
      {root() / "v3b",
       {"--shape", "50,9,7", "--chunks", "16,4,4", "--endian", "big", "--dtype", "float64"},
       true},
      {root() / "v3c",
       {"--shape", "64,64", "--chunks", "16,16", "--encoding", "v2", "--separator", ".", "--dtype",
        "int16", "--drop-chunks", "3"},
       true},
      {root() / "v3d", {"--shape", "33", "--chunks", "10", "--dtype", "uint8"}, true},
  };
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  ASSERT_NO_FATAL_FAILURE(StartWithRoot());
  std::vector<std::string> urls;
  for (const ArraySpec& s : specs) urls.push_back(FileUrl(s.path));
  std::map<std::string, nlohmann::json> sessions = RunStats(urls);
  for (size_t i = 0; i < specs.size(); ++i) {
    SCOPED_TRACE(urls[i]);
    const nlohmann::json& s = sessions[urls[i]];
    ASSERT_EQ(s["state"], "completed") << s.dump();
    EXPECT_EQ(StatsMismatch(s["result"], oracles[i]), "");
  }
}

TEST_F(PipelineStatsTest, RegionsSplitOverSessionsAddUpToTheWholeArray) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<nlohmann::json> oracles,
      MakeArrays({{root() / "big",
                   {"--shape", "100,90", "--chunks", "16,32", "--compressor", "blosc-lz4"}}}));
  ASSERT_NO_FATAL_FAILURE(StartWithRoot());
  // 7 x 3 chunks, in four quarters of the grid.
  nlohmann::json regions = nlohmann::json::parse(
      "[[[0, 4], [0, 2]], [[0, 4], [2, 3]], [[4, 7], [0, 2]], [[4, 7], [2, 3]]]");
  nlohmann::json batch = {
      {"name", "quarters"},
      {"template",
       {{"op", "stats"}, {"source", {{"url", FileUrl(root() / "big")}}}, {"region", nullptr}}},
      {"data", {{{{"field", "/region"}, {"items", regions}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  // The batch's aggregated result covers every chunk exactly once.
  EXPECT_EQ(StatsMismatch(done["result"], oracles[0]), "") << done.dump();
  EXPECT_EQ(done["result"]["sessions"], 4);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  int64_t chunks = 0;
  for (int64_t sid : ids) {
    ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                         GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
    chunks += s["progress"]["chunks_total"].get<int64_t>();
  }
  EXPECT_EQ(chunks, 7 * 3);
}

}  // namespace
}  // namespace batchd::testing
