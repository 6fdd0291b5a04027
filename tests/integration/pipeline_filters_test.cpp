// End to end (issue 12, codecs and filters): zarr v2 arrays written by the real zarr-python with
// numcodecs Delta and FixedScaleOffset filters (alone, chained, under several compressors) and
// in F order (2-d and 3-d, with edge chunks), tests/e2e/make_zarr_codecs.py. The real daemon's
// stats equal numpy's; checksum digests equal XXH64 of what zarr-python decodes, in C order;
// transcode to zstd gives arrays zarr-python reads back equal to the source. Filters batchd does
// not know, or configs it refuses, fail their session naming the filter; a damaged chunk of a
// filtered array fails naming the chunk.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

struct FilteredArray {
  std::string name;
  std::vector<std::string> args;  // make_zarr_codecs.py's
};

// Every combination the issue names: Delta, FixedScaleOffset (float -> int16, as in numcodecs'
// documentation), Delta with zlib, F order with edge chunks; and a few around them.
std::vector<FilteredArray> Arrays() {
  return {
      {"delta_f4_zlib", {"--filters", "delta", "--dtype", "<f4", "--compressor", "zlib"}},
      {"delta_i2_raw", {"--filters", "delta", "--dtype", "<i2", "--compressor", "none"}},
      {"delta_wide_be_i2_bz2",
       {"--filters", "delta-wide", "--dtype", ">i2", "--compressor", "bz2"}},
      {"fso_f8_zlib", {"--filters", "fso", "--dtype", "<f8", "--compressor", "zlib"}},
      {"fso_be_f8_raw", {"--filters", "fso", "--dtype", ">f8", "--compressor", "none"}},
      {"fso_delta_f8_zstd", {"--filters", "fso-delta", "--dtype", "<f8", "--compressor", "zstd"}},
      {"order_f_f4_zlib", {"--order", "F", "--dtype", "<f4", "--compressor", "zlib"}},
      {"order_f_3d_be_i2_gzip",
       {"--order", "F", "--dtype", ">i2", "--compressor", "gzip", "--shape", "9,10,11", "--chunks",
        "4,3,5"}},
      {"order_f_delta_f8_bz2",
       {"--order", "F", "--filters", "delta", "--dtype", "<f8", "--compressor", "bz2"}},
      {"order_f_fso_f4_blosc",
       {"--order", "F", "--filters", "fso", "--dtype", "<f4", "--compressor", "blosc-shuffle"}},
  };
}

int64_t ChunksOf(const nlohmann::json& oracle) {
  int64_t n = 1;
  for (size_t d = 0; d < oracle["shape"].size(); ++d) {
    const int64_t shape = oracle["shape"][d], chunk = oracle["chunks"][d];
    n *= (shape + chunk - 1) / chunk;
  }
  return n;
}

class PipelineFiltersTest : public DaemonTest {
 protected:
  const std::filesystem::path& root() const { return arrays_.path(); }

  void SetUp() override {
    for (const FilteredArray& a : Arrays()) {
      std::vector<std::string> command = {
          kSystemPython, (E2eScriptsDir() / "make_zarr_codecs.py").string(),
          (root() / a.name).string(), "--seed", std::to_string(oracles_.size())};
      command.insert(command.end(), a.args.begin(), a.args.end());
      ASSERT_OK_AND_ASSIGN(nlohmann::json oracle, RunJsonCommand(command));
      oracles_.push_back(oracle);
      urls_.push_back(FileUrl(root() / a.name));
    }
    ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root().string()}));
  }

  // Runs one session per item (`template_job` with `field` set from `sources`), waits for the
  // batch to reach `state` and returns the sessions in the order of `sources`.
  std::vector<nlohmann::json> RunEach(const nlohmann::json& template_job,
                                      const std::vector<nlohmann::json>& sources,
                                      const std::string& field, const std::string& state) {
    nlohmann::json batch = {{"name", "filters"},
                            {"template", template_job},
                            {"data", {{{{"field", field}, {"items", sources}}}}}};
    Result<std::string> id = SubmitBatch(client(), batch);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    Result<nlohmann::json> done = WaitForBatchState(client(), *id, state, kBatchTimeout);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    EXPECT_TRUE(ids.ok());
    if (!ids.ok()) return {};
    std::map<std::string, nlohmann::json> by_item;
    for (int64_t sid : *ids) {
      Result<nlohmann::json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string(sid));
      EXPECT_TRUE(s.ok());
      if (s.ok()) by_item[(*s)["values"][field].dump()] = *s;
    }
    std::vector<nlohmann::json> sessions;
    for (const nlohmann::json& item : sources) sessions.push_back(by_item[item.dump()]);
    return sessions;
  }

  std::vector<nlohmann::json> oracles_;
  std::vector<std::string> urls_;

 private:
  TempDir arrays_;
};

TEST_F(PipelineFiltersTest, StatsEqualNumpyForDeltaFixedScaleOffsetAndFOrder) {
  std::vector<nlohmann::json> items(urls_.begin(), urls_.end());
  std::vector<nlohmann::json> sessions = RunEach({{"op", "stats"}, {"source", {{"url", urls_[0]}}}},
                                                 items, "/source/url", "completed");
  ASSERT_EQ(sessions.size(), urls_.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    SCOPED_TRACE(urls_[i] + " " + oracles_[i].dump());
    ASSERT_EQ(sessions[i]["state"], "completed") << sessions[i].dump();
    EXPECT_EQ(StatsMismatch(sessions[i]["result"], oracles_[i]), "");
    EXPECT_EQ(sessions[i]["progress"]["chunks_done"], ChunksOf(oracles_[i]));
  }
}

// Digests are of the chunk as the ops see it: filters undone, C order. An F-order chunk read
// without its transpose would have the same statistics but another digest.
TEST_F(PipelineFiltersTest, ChecksumDigestsEqualXxh64OfWhatZarrPythonDecodesInCOrder) {
  std::vector<nlohmann::json> items(urls_.begin(), urls_.end());
  std::vector<nlohmann::json> sessions =
      RunEach({{"op", "checksum"}, {"algorithm", "xxh64"}, {"source", {{"url", urls_[0]}}}}, items,
              "/source/url", "completed");
  ASSERT_EQ(sessions.size(), urls_.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    SCOPED_TRACE(urls_[i]);
    ASSERT_OK_AND_ASSIGN(
        nlohmann::json peer,
        RunJsonCommand({kSystemPython, (E2eScriptsDir() / "chunk_digests.py").string(),
                        (root() / Arrays()[i].name).string()}));
    const nlohmann::json& manifest = sessions[i]["result"]["manifest"];
    ASSERT_EQ(static_cast<int64_t>(manifest.size()), ChunksOf(oracles_[i]));
    for (const nlohmann::json& entry : manifest) {
      const std::string key = entry["key"];
      ASSERT_TRUE(peer["digests"].contains(key)) << key;
      EXPECT_EQ(entry["digest"], peer["digests"][key]) << key;
    }
  }
}

// The sink is a plain zarr v2 array: C order, no filters, zstd; zarr-python reads the source's
// values from it.
TEST_F(PipelineFiltersTest, TranscodeToZstdReadsBackEqualInZarrPython) {
  std::vector<nlohmann::json> jobs;
  for (size_t i = 0; i < urls_.size(); ++i) {
    jobs.push_back({{"source", {{"url", urls_[i]}}},
                    {"sink",
                     {{"url", FileUrl(root() / ("out_" + Arrays()[i].name))},
                      {"codec", {{"id", "zstd"}, {"level", 3}}}}}});
  }
  nlohmann::json sources = nlohmann::json::array(), sinks = nlohmann::json::array();
  for (const nlohmann::json& j : jobs) {
    sources.push_back(j["source"]);
    sinks.push_back(j["sink"]);
  }
  nlohmann::json batch = {
      {"name", "transcode filters"},
      {"template", {{"op", "transcode"}, {"source", sources[0]}, {"sink", sinks[0]}}},
      {"data",
       {{{{"field", "/source"}, {"items", sources}}, {{"field", "/sink"}, {"items", sinks}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  for (size_t i = 0; i < urls_.size(); ++i) {
    SCOPED_TRACE(Arrays()[i].name);
    const auto out = root() / ("out_" + Arrays()[i].name);
    ASSERT_OK_AND_ASSIGN(nlohmann::json cmp, CompareArrays(root() / Arrays()[i].name, out));
    EXPECT_EQ(cmp["equal"], true) << cmp.dump();
    EXPECT_EQ(cmp["actual"]["compressor"]["id"], "zstd") << cmp.dump();
    std::ifstream in(out / ".zarray");
    const nlohmann::json zarray = nlohmann::json::parse(in);
    EXPECT_EQ(zarray["order"], "C");
    EXPECT_TRUE(zarray["filters"].is_null()) << zarray.dump();
    EXPECT_EQ(zarray["dtype"], oracles_[i]["dtype"]);
  }
}

void EditZarray(const std::filesystem::path& array,
                const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json doc;
  {
    std::ifstream in(array / ".zarray");
    doc = nlohmann::json::parse(in);
  }
  edit(doc);
  std::ofstream(array / ".zarray", std::ios::trunc) << doc.dump();
}

TEST_F(PipelineFiltersTest, RefusedFiltersAndDamagedChunksFailTheirSessionNamingThem) {
  // Four copies of the delta + zlib array, each broken in its own way.
  const std::vector<std::string> broken = {"unknown", "missing_member", "pair", "damaged"};
  std::vector<nlohmann::json> items;
  for (const std::string& name : broken) {
    std::filesystem::copy(root() / "delta_f4_zlib", root() / name,
                          std::filesystem::copy_options::recursive);
    items.push_back(FileUrl(root() / name));
  }
  EditZarray(root() / "unknown", [](nlohmann::json& d) {
    d["filters"] = {{{"id", "quantize"}, {"digits", 3}, {"dtype", "<f4"}}};
  });
  EditZarray(root() / "missing_member", [](nlohmann::json& d) {
    d["filters"] = {{{"id", "fixedscaleoffset"}, {"scale", 100}, {"dtype", "<f4"}}};
  });
  EditZarray(root() / "pair", [](nlohmann::json& d) {
    d["filters"] = {{{"id", "delta"}, {"dtype", "<f4"}, {"astype", "<i4"}}};
  });
  std::ofstream(root() / "damaged" / "1.2", std::ios::binary | std::ios::trunc) << "not zlib";
  const std::vector<std::vector<std::string>> words = {
      {".zarray", "\"filters\"", "unknown filter \"quantize\"", "delta, fixedscaleoffset"},
      {".zarray", "\"filters\"", "fixedscaleoffset: \"offset\" is missing"},
      {".zarray", "\"filters\"", "delta: \"astype\" is unsupported", "<f4 with astype <i4"},
      {"chunk 1.2", "zlib"},
  };
  std::vector<nlohmann::json> sessions =
      RunEach({{"op", "stats"}, {"source", {{"url", items[0]}}}}, items, "/source/url", "failed");
  ASSERT_EQ(sessions.size(), broken.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    SCOPED_TRACE(sessions[i].dump());
    EXPECT_EQ(sessions[i]["state"], "error");
    EXPECT_EQ(sessions[i]["attempts"], 1) << "a permanent error is not retried";
    EXPECT_EQ(sessions[i]["error"]["kind"], "permanent");
    EXPECT_TRUE(sessions[i]["result"].is_null()) << "no numbers from bad data";
    const std::string message = sessions[i]["error"]["message"];
    for (const std::string& w : words[i]) {
      EXPECT_NE(message.find(w), std::string::npos) << "\"" << w << "\" not in: " << message;
    }
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.status, 200);
}

// zarr v3 codec chains [transpose, bytes, zstd, crc32c] (hand-built by tests/e2e/make_zarr_v3.py,
// as zarr-python 2 cannot write v3): numpy's statistics; transcoded to zarr v2 they equal the
// transcode of the same data stored without transpose and checksum (zarr-python compares the
// two sinks); a damaged chunk fails its session naming the chunk and crc32c.
class ZarrV3ChainTest : public DaemonTest {
 protected:
  const std::filesystem::path& root() const { return arrays_.path(); }
  TempDir arrays_;
};

TEST_F(ZarrV3ChainTest, TransposeAndCrc32cReadExactlyAndADamagedChunkIsNamed) {
  const std::vector<std::string> two_d = {"--shape", "37,53", "--chunks", "8,16", "--seed", "5"};
  const std::vector<std::string> three_d = {"--shape", "9,10,11",  "--chunks", "4,3,5",  "--dtype",
                                            "int16",   "--endian", "big",      "--seed", "6"};
  auto with = [](std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  std::vector<ArraySpec> specs = {
      {root() / "t2", with(two_d, {"--transpose", "1,0", "--crc32c"}), true},
      {root() / "p2", two_d, true},
      {root() / "t3", with(three_d, {"--transpose", "2,0,1", "--crc32c"}), true},
      {root() / "p3", three_d, true},
      {root() / "c2", with(two_d, {"--crc32c"}), true},
      {root() / "damaged", with(two_d, {"--transpose", "1,0", "--crc32c"}), true},
  };
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  {
    const auto chunk = root() / "damaged" / "c" / "1" / "2";
    std::fstream f(chunk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('\x5a');
  }
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root().string()}));

  nlohmann::json urls = nlohmann::json::array();
  for (const ArraySpec& s : specs) urls.push_back(FileUrl(s.path));
  nlohmann::json stats = {{"name", "v3 chains"},
                          {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
                          {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), stats));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "failed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_EQ(ids.size(), specs.size());
  for (int64_t sid : ids) {
    ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                         GetJson(client(), "/api/v1/sessions/" + std::to_string(sid)));
    const std::string url = s["values"]["/source/url"];
    SCOPED_TRACE(s.dump());
    if (url == urls[5]) {
      EXPECT_EQ(s["state"], "error");
      EXPECT_EQ(s["error"]["kind"], "permanent");
      const std::string message = s["error"]["message"];
      EXPECT_NE(message.find("chunk c/1/2: crc32c: the stored checksum"), std::string::npos)
          << message;
      continue;
    }
    const size_t i = std::find(urls.begin(), urls.end(), url) - urls.begin();
    ASSERT_EQ(s["state"], "completed");
    EXPECT_EQ(StatsMismatch(s["result"], oracles[i]), "");
  }

  // Transposed + checksummed and plain copies of the same data transcode to equal v2 arrays.
  nlohmann::json sources = nlohmann::json::array(), sinks = nlohmann::json::array();
  for (const char* name : {"t2", "p2", "t3", "p3", "c2"}) {
    sources.push_back({{"url", FileUrl(root() / name)}});
    sinks.push_back({{"url", FileUrl(root() / (std::string("v2_") + name))},
                     {"codec", {{"id", "zstd"}, {"level", 3}}}});
  }
  nlohmann::json transcode = {
      {"name", "v3 to v2"},
      {"template", {{"op", "transcode"}, {"source", sources[0]}, {"sink", sinks[0]}}},
      {"data",
       {{{{"field", "/source"}, {"items", sources}}, {{"field", "/sink"}, {"items", sinks}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string tid, SubmitBatch(client(), transcode));
  ASSERT_OK_AND_ASSIGN(nlohmann::json tdone,
                       WaitForBatchState(client(), tid, "completed", kBatchTimeout));
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"v2_t2", "v2_p2"}, {"v2_t3", "v2_p3"}, {"v2_c2", "v2_p2"}}) {
    SCOPED_TRACE(a + " vs " + b);
    ASSERT_OK_AND_ASSIGN(nlohmann::json cmp, CompareArrays(root() / b, root() / a));
    EXPECT_EQ(cmp["equal"], true) << cmp.dump();
  }
}

}  // namespace
}  // namespace batchd::testing
