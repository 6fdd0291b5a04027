// End to end: `transcode` re-encodes arrays written by zarr-python, and zarr-python opens what
// batchd wrote and finds exactly the input's values (tests/e2e/zarr_compare.py).
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

class PipelineTranscodeTest : public DaemonTest {
 protected:
  const std::filesystem::path& root() const { return arrays_.path(); }

  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root().string()})); }

  nlohmann::json Transcode(const std::filesystem::path& in, const std::filesystem::path& out,
                           const nlohmann::json& codec) {
    return {{"op", "transcode"},
            {"source", {{"url", FileUrl(in)}}},
            {"sink", {{"url", FileUrl(out)}, {"codec", codec}}}};
  }

 private:
  TempDir arrays_;
};

TEST_F(PipelineTranscodeTest, ZarrPythonReadsBackTheSameValues) {
  struct Case {
    const char* source_compressor;
    nlohmann::json sink_codec;
    const char* expected_compressor_id;  // in the output's .zarray, as zarr-python reports it
  };
  const std::vector<Case> cases = {
      {"lz4", {{"id", "zstd"}, {"level", 5}}, "zstd"},
      {"blosc-lz4", {{"id", "lz4"}}, "lz4"},
      {"zstd", nullptr, nullptr},
  };
  std::vector<ArraySpec> specs;
  for (size_t i = 0; i < cases.size(); ++i) {
    specs.push_back(
        {root() / ("in" + std::to_string(i)),
         {"--shape", "45,70", "--chunks", "16,32", "--dtype", i == 1 ? ">f8" : "<f4",
          "--compressor", cases[i].source_compressor, "--drop-chunks", i == 2 ? "1" : "0"}});
  }
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));

  nlohmann::json jobs = nlohmann::json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    jobs.push_back(
        Transcode(specs[i].path, root() / ("out" + std::to_string(i)), cases[i].sink_codec));
  }
  // One session per case: the source and the sink are zipped in one group.
  nlohmann::json sources = nlohmann::json::array(), sinks = nlohmann::json::array();
  for (const nlohmann::json& j : jobs) {
    sources.push_back(j["source"]);
    sinks.push_back(j["sink"]);
  }
  nlohmann::json batch = {
      {"name", "transcode"},
      {"template", jobs[0]},
      {"data",
       {{{{"field", "/source"}, {"items", sources}}, {{"field", "/sink"}, {"items", sinks}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));

  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].source_compressor);
    ASSERT_OK_AND_ASSIGN(nlohmann::json cmp,
                         CompareArrays(specs[i].path, root() / ("out" + std::to_string(i))));
    EXPECT_EQ(cmp["equal"], true) << cmp.dump();
    EXPECT_EQ(cmp["actual"]["dtype"], cmp["expected"]["dtype"]);
    if (cases[i].expected_compressor_id) {
      EXPECT_EQ(cmp["actual"]["compressor"]["id"], cases[i].expected_compressor_id) << cmp.dump();
    } else {
      EXPECT_TRUE(cmp["actual"]["compressor"].is_null()) << cmp.dump();
    }
  }
  // The missing source chunk stays missing: it reads as the fill value on both sides.
  EXPECT_FALSE(std::filesystem::exists(root() / "out2" /
                                       oracles[2]["dropped_chunks"][0].get<std::string>()));
}

// zlib, gzip and bz2 sources (written by zarr-python, with xarray's _ARRAY_DIMENSIONS in their
// .zattrs) transcoded to zstd: zarr-python reads the same values and the same attributes back.
TEST_F(PipelineTranscodeTest, ZlibGzipBz2ToZstdKeepValuesAndAttributes) {
  const nlohmann::json attrs = {{"_ARRAY_DIMENSIONS", {"time", "lat"}}, {"units", "K"}};
  const std::vector<std::string> compressors = {"zlib", "gzip", "bz2"};
  nlohmann::json sources = nlohmann::json::array(), sinks = nlohmann::json::array();
  for (size_t i = 0; i < compressors.size(); ++i) {
    const auto in = root() / ("zin" + std::to_string(i));
    ASSERT_OK(RunJsonCommand({kSystemPython, (E2eScriptsDir() / "make_zarr_codecs.py").string(),
                              in.string(), "--compressor", compressors[i], "--shape", "45,70",
                              "--chunks", "16,32", "--attrs", attrs.dump()})
                  .status());
    const nlohmann::json job =
        Transcode(in, root() / ("zout" + std::to_string(i)), {{"id", "zstd"}, {"level", 3}});
    sources.push_back(job["source"]);
    sinks.push_back(job["sink"]);
  }
  nlohmann::json batch = {
      {"name", "transcode"},
      {"template", {{"op", "transcode"}, {"source", sources[0]}, {"sink", sinks[0]}}},
      {"data",
       {{{{"field", "/source"}, {"items", sources}}, {{"field", "/sink"}, {"items", sinks}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  for (size_t i = 0; i < compressors.size(); ++i) {
    SCOPED_TRACE(compressors[i]);
    const auto out = root() / ("zout" + std::to_string(i));
    ASSERT_OK_AND_ASSIGN(nlohmann::json cmp,
                         CompareArrays(root() / ("zin" + std::to_string(i)), out));
    EXPECT_EQ(cmp["equal"], true) << cmp.dump();
    EXPECT_EQ(cmp["actual"]["compressor"]["id"], "zstd") << cmp.dump();
    ASSERT_OK_AND_ASSIGN(
        nlohmann::json read_back,
        RunJsonCommand({kSystemPython, "-c",
                        "import json, sys, zarr; "
                        "print(json.dumps(dict(zarr.open(sys.argv[1], mode='r').attrs)))",
                        out.string()}));
    EXPECT_EQ(read_back, attrs);
  }
}

TEST_F(PipelineTranscodeTest, SessionsWritingRegionsOfOneSink) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<nlohmann::json> oracles,
      MakeArrays({{root() / "src",
                   {"--shape", "64,50", "--chunks", "16,16", "--compressor", "blosc-zstd"}}}));
  nlohmann::json batch = {
      {"name", "regions"},
      {"template", Transcode(root() / "src", root() / "dst", {{"id", "zstd"}, {"level", 1}})},
      {"data",
       {{{{"field", "/region"},
          {"items",
           nlohmann::json::parse("[[[0, 2], [0, 4]], [[2, 4], [0, 2]], [[2, 4], [2, 4]]]")}}}}}};
  batch["template"]["region"] = nullptr;
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(nlohmann::json cmp, CompareArrays(root() / "src", root() / "dst"));
  EXPECT_EQ(cmp["equal"], true) << cmp.dump();
}

TEST_F(PipelineTranscodeTest, RefusesASinkHoldingAnotherArray) {
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles,
                       MakeArrays({{root() / "a", {"--shape", "20,20", "--chunks", "10,10"}},
                                   {root() / "b", {"--shape", "30,20", "--chunks", "10,10"}}}));
  nlohmann::json batch = {{"name", "clash"},
                          {"template", Transcode(root() / "a", root() / "b", nullptr)},
                          {"data", nlohmann::json::array()}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "failed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                       GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[0])));
  EXPECT_NE(s["error"]["message"].get<std::string>().find("already holds a different array"),
            std::string::npos)
      << s.dump();
  // Nothing of b was touched.
  ASSERT_OK_AND_ASSIGN(nlohmann::json cmp, CompareArrays(root() / "b", root() / "b"));
  EXPECT_EQ(cmp["expected"]["shape"], nlohmann::json::parse("[30, 20]"));
}

// A sink inside a zarr-python group with consolidated metadata joins its .zmetadata: zarr's
// open_consolidated lists it with the source's values and attributes, and keeps the members
// that were there.
TEST_F(PipelineTranscodeTest, ASinkInAConsolidatedGroupJoinsItsZmetadata) {
  const auto group = root() / "g";
  ASSERT_OK(RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_group.py").string(), "make",
                            group.string()})
                .status());
  nlohmann::json batch = {{"name", "consolidated"},
                          {"template", Transcode(group / "src", group / "dst", {{"id", "zstd"}})},
                          {"data", nlohmann::json::array()}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(nlohmann::json read,
                       RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_group.py").string(),
                                       "read", group.string()}));
  EXPECT_EQ(read["members"], nlohmann::json::parse(R"(["dst", "other", "src"])")) << read.dump();
  EXPECT_EQ(read["dst_equal"], true) << read.dump();
  EXPECT_EQ(read["dst_attrs"]["_ARRAY_DIMENSIONS"], nlohmann::json::parse(R"(["time", "lat"])"))
      << read.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                       GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[0])));
  EXPECT_EQ(s["result"]["consolidated"], FileUrl(group) + "/.zmetadata") << s.dump();
}

// Several sessions writing arrays into one consolidated group each add their own entry: none
// is lost to another's read-modify-write.
TEST_F(PipelineTranscodeTest, SessionsWritingArraysOfOneGroupEachJoinItsZmetadata) {
  const auto group = root() / "g";
  ASSERT_OK(RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_group.py").string(), "make",
                            group.string()})
                .status());
  nlohmann::json sinks = nlohmann::json::array();
  for (int i = 0; i < 6; ++i) {
    sinks.push_back({{"url", FileUrl(group / ("copy" + std::to_string(i)))}, {"codec", nullptr}});
  }
  nlohmann::json batch = {{"name", "copies"},
                          {"template", Transcode(group / "src", group / "copy0", nullptr)},
                          {"data", {{{{"field", "/sink"}, {"items", sinks}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(nlohmann::json read,
                       RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_group.py").string(),
                                       "read", group.string()}));
  EXPECT_EQ(read["members"],
            nlohmann::json::parse(
                R"(["copy0", "copy1", "copy2", "copy3", "copy4", "copy5", "other", "src"])"))
      << read.dump();
}

// A group without .zmetadata is left without one (one listing only the new array would hide the
// others from open_consolidated); a damaged .zmetadata fails the session naming it and is left
// as it was.
TEST_F(PipelineTranscodeTest, AnUnconsolidatedGroupGetsNoZmetadataAndADamagedOneFails) {
  const auto plain = root() / "plain";
  ASSERT_OK(RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_group.py").string(), "make",
                            plain.string(), "--no-consolidate"})
                .status());
  const auto damaged = root() / "damaged";
  ASSERT_OK(RunJsonCommand({kSystemPython, (E2eScriptsDir() / "zarr_group.py").string(), "make",
                            damaged.string()})
                .status());
  const std::string garbage = R"({"zarr_consolidated_format": 2, "metadata": {}})";
  {
    std::ofstream out(damaged / ".zmetadata", std::ios::binary | std::ios::trunc);
    out << garbage;
  }
  nlohmann::json batch = {{"name", "groups"},
                          {"template", Transcode(plain / "src", plain / "dst", nullptr)},
                          {"data",
                           {{{{"field", "/sink"},
                              {"items",
                               {{{"url", FileUrl(plain / "dst")}, {"codec", nullptr}},
                                {{"url", FileUrl(damaged / "dst")}, {"codec", nullptr}}}}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "failed", kBatchTimeout));
  EXPECT_EQ(done["counts"]["completed"], 1) << done.dump();
  EXPECT_TRUE(std::filesystem::exists(plain / "dst" / ".zarray"));
  EXPECT_FALSE(std::filesystem::exists(plain / ".zmetadata"));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                       GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[1])));
  EXPECT_NE(s["error"]["message"].get<std::string>().find(
                FileUrl(damaged) + "/.zmetadata is not zarr v2 consolidated metadata"),
            std::string::npos)
      << s.dump();
  std::ifstream in(damaged / ".zmetadata", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
            garbage);
}

}  // namespace
}  // namespace batchd::testing
