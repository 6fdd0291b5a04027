// End to end: the `checksum` op's per-chunk digests equal XXH64 of the bytes numcodecs decodes
// from the same chunk files (tests/e2e/chunk_digests.py), missing chunks are listed as missing,
// and crc32c works as the other algorithm.
#include <gtest/gtest.h>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

class PipelineChecksumTest : public DaemonTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        oracles_,
        MakeArrays({{root_.path() / "a",
                     {"--shape", "50,40", "--chunks", "16,16", "--dtype", ">f8", "--compressor",
                      "blosc-zstd", "--separator", "/", "--drop-chunks", "2"}}}));
    ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root_.path().string()}));
  }

  nlohmann::json RunChecksum(const std::string& algorithm) {
    nlohmann::json batch = {{"name", "digests"},
                            {"template",
                             {{"op", "checksum"},
                              {"algorithm", algorithm},
                              {"source", {{"url", FileUrl(root_.path() / "a")}}}}}};
    Result<std::string> id = SubmitBatch(client(), batch);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return nullptr;
    Result<nlohmann::json> done =
        WaitForBatchState(client(), *id, "completed", std::chrono::seconds(120));
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    if (!ids.ok()) return nullptr;
    Result<nlohmann::json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string((*ids)[0]));
    return s.ok() ? (*s)["result"] : nlohmann::json();
  }

  TempDir root_;
  std::vector<nlohmann::json> oracles_;
};

TEST_F(PipelineChecksumTest, DigestsEqualXxh64OfWhatNumcodecsDecodes) {
  const nlohmann::json result = RunChecksum("xxh64");
  ASSERT_FALSE(result.is_null());
  ASSERT_OK_AND_ASSIGN(
      nlohmann::json peer,
      RunJsonCommand({kSystemPython, (E2eScriptsDir() / "chunk_digests.py").string(),
                      (root_.path() / "a").string()}));
  EXPECT_EQ(result["algorithm"], "xxh64");
  EXPECT_EQ(result["chunks"], 4 * 3);
  EXPECT_EQ(result["missing"], 2);
  int compared = 0;
  for (const nlohmann::json& entry : result["manifest"]) {
    const std::string key = entry["key"];
    if (entry.value("missing", false)) {
      EXPECT_FALSE(peer["digests"].contains(key)) << key << " exists on disk";
      continue;
    }
    ASSERT_TRUE(peer["digests"].contains(key)) << key;
    EXPECT_EQ(entry["digest"], peer["digests"][key]) << key;
    ++compared;
  }
  EXPECT_EQ(compared, 10);
  EXPECT_EQ(result["digest"].get<std::string>().size(), 16u);
}

TEST_F(PipelineChecksumTest, Crc32cAndTheCombinedDigestAreStable) {
  const nlohmann::json a = RunChecksum("crc32c");
  const nlohmann::json b = RunChecksum("crc32c");
  ASSERT_FALSE(a.is_null());
  EXPECT_EQ(a["algorithm"], "crc32c");
  for (const nlohmann::json& entry : a["manifest"]) {
    if (!entry.value("missing", false)) {
      EXPECT_EQ(entry.at("digest").get<std::string>().size(), 8u) << entry;
    }
  }
  EXPECT_EQ(a, b) << "the same chunks give the same manifest and digest";
  EXPECT_NE(a["digest"], RunChecksum("xxh64")["digest"]);
}

TEST_F(PipelineChecksumTest, AnUnknownAlgorithmFailsNamingTheMember) {
  nlohmann::json batch = {{"name", "bad"},
                          {"template",
                           {{"op", "checksum"},
                            {"algorithm", "md5"},
                            {"source", {{"url", FileUrl(root_.path() / "a")}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "failed", std::chrono::seconds(60)));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                       GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[0])));
  EXPECT_NE(s["error"]["message"].get<std::string>().find("/algorithm"), std::string::npos)
      << s.dump();
}

}  // namespace
}  // namespace batchd::testing
