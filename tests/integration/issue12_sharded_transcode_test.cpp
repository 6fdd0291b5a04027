// zarr v3 sharded output in transcode (issue 12, acceptance 4, the write half): a daemon
// reshards zarr-python-written v2 arrays (edge shards, missing source chunks) into
// sharding_indexed v3 sinks; zarrita (tests/zarrita, independent of batchd) reads every element
// back equal to the source (tests/e2e/compare_raw.py, numpy), batchd's own stats over the
// output equal numpy's, and the shards on disk are exactly the ones the result counts. Every
// bad `sink.shards` is refused naming the field: its shape at submit (422), the rest when the
// session is prepared, before anything is written. A kill -9 in the middle of a sharded
// transcode resumes to the same values, with every chunk counted once.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/nginx_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;
constexpr auto kBatchTimeout = std::chrono::seconds(240);

// Regular files under `dir`, as paths relative to it.
std::vector<std::string> FilesUnder(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ShardedTranscodeTest : public DaemonTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root_.path().string()}));
  }

  // Runs one batch of `job` and returns its one session once the batch is `end_state`.
  nlohmann::json RunOne(const nlohmann::json& job, const std::string& end_state) {
    Result<std::string> id = SubmitBatch(client(), {{"name", "shards"}, {"template", job}});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return nullptr;
    Result<nlohmann::json> done = WaitForBatchState(client(), *id, end_state, kBatchTimeout);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    if (!ids.ok() || ids->size() != 1) return nullptr;
    Result<nlohmann::json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string((*ids)[0]));
    return s.ok() ? *s : nullptr;
  }

  nlohmann::json Transcode(const fs::path& in, const nlohmann::json& sink) {
    return {{"op", "transcode"}, {"source", {{"url", FileUrl(in)}}}, {"sink", sink}};
  }

  TempDir root_;
};

TEST_F(ShardedTranscodeTest, ZarritaReadsTheReshardedArrayEqualToTheSource) {
  struct Case {
    std::vector<std::string> args;  // make_zarr.py's
    nlohmann::json shards;
    nlohmann::json codec;
    int64_t inner_chunks;  // the source's chunks
    int dropped;           // source chunks deleted: they read as the fill value
  };
  const std::vector<Case> cases = {
      // 5 x 4 chunks in 3 x 2 shards of 2 x 2: the last row and column of shards are partial.
      {{"--shape", "37,53", "--chunks", "8,16", "--compressor", "zstd", "--fill-value", "3",
        "--drop-chunks", "3"},
       {16, 32},
       {{"id", "zstd"}, {"level", 3}},
       20,
       3},
      // Big-endian int16, 11 x 6 chunks in 4 x 3 shards of 3 x 2; blosc with byte shuffle.
      {{"--shape", "41,30", "--chunks", "4,5", "--dtype", ">i2", "--compressor", "blosc-lz4",
        "--drop-chunks", "2"},
       {12, 10},
       {{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 1}, {"blocksize", 0}},
       66,
       2},
  };
  std::vector<ArraySpec> specs;
  for (size_t i = 0; i < cases.size(); ++i) {
    specs.push_back({root_.path() / ("in" + std::to_string(i)), cases[i].args});
  }
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    const fs::path out = root_.path() / ("out" + std::to_string(i));
    nlohmann::json s = RunOne(
        Transcode(specs[i].path,
                  {{"url", FileUrl(out)}, {"codec", cases[i].codec}, {"shards", cases[i].shards}}),
        "completed");
    ASSERT_TRUE(s.is_object());
    const nlohmann::json& result = s["result"];
    EXPECT_EQ(result["chunks_written"], cases[i].inner_chunks - cases[i].dropped) << s.dump();
    EXPECT_EQ(s["progress"]["chunks_total"], cases[i].inner_chunks) << "inner chunks are the unit";

    // The metadata: one sharding_indexed codec, the grid of shards, the index at the end.
    std::ifstream meta(out / "zarr.json");
    const nlohmann::json doc = nlohmann::json::parse(meta);
    EXPECT_EQ(doc["chunk_grid"]["configuration"]["chunk_shape"], cases[i].shards) << doc.dump();
    ASSERT_EQ(doc["codecs"].size(), 1u) << doc.dump();
    EXPECT_EQ(doc["codecs"][0]["name"], "sharding_indexed");
    EXPECT_EQ(doc["codecs"][0]["configuration"]["index_location"], "end");
    EXPECT_EQ(doc["codecs"][0]["configuration"]["index_codecs"][1]["name"], "crc32c");

    // The objects: zarr.json and exactly the shards counted, nothing else (no temp files).
    std::vector<std::string> files = FilesUnder(out);
    ASSERT_FALSE(files.empty());
    EXPECT_EQ(files.back(), "zarr.json");
    for (size_t f = 0; f + 1 < files.size(); ++f) {
      EXPECT_TRUE(files[f].starts_with("c/")) << files[f];
      EXPECT_EQ(files[f].find('.'), std::string::npos) << files[f] << " is not a shard key";
    }
    EXPECT_EQ(static_cast<int64_t>(files.size()) - 1, result["shards_written"].get<int64_t>());

    ASSERT_OK_AND_ASSIGN(nlohmann::json compared, CompareWithZarrita(specs[i].path, out));
    EXPECT_TRUE(compared["equal"].get<bool>()) << compared.dump();

    // batchd reads its own output (the sharded reader) to numpy's numbers, and to the
    // source's exactly.
    nlohmann::json by_shards =
        RunOne({{"op", "stats"}, {"source", {{"url", FileUrl(out)}}}}, "completed");
    nlohmann::json by_source =
        RunOne({{"op", "stats"}, {"source", {{"url", FileUrl(specs[i].path)}}}}, "completed");
    ASSERT_TRUE(by_shards.is_object());
    ASSERT_TRUE(by_source.is_object());
    EXPECT_EQ(StatsMismatch(by_shards["result"], oracles[i]), "");
    EXPECT_EQ(by_shards["result"], by_source["result"]);
  }
}

TEST_F(ShardedTranscodeTest, AnUnshardedZarrV3SinkKeepsValuesAndAttributes) {
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles,
                       MakeArrays({{root_.path() / "in",
                                    {"--shape", "37,53", "--chunks", "8,16", "--compressor", "lz4",
                                     "--drop-chunks", "2"}}}));
  {
    std::ofstream attrs(root_.path() / "in" / ".zattrs");
    attrs << R"({"_ARRAY_DIMENSIONS": ["y", "x"], "units": "K"})";
  }
  const fs::path out = root_.path() / "out";
  nlohmann::json s = RunOne(
      Transcode(
          root_.path() / "in",
          {{"url", FileUrl(out)}, {"format", "zarr3"}, {"codec", {{"id", "gzip"}, {"level", 4}}}}),
      "completed");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["result"]["chunks_written"], 18) << s.dump();
  std::ifstream meta(out / "zarr.json");
  const nlohmann::json doc = nlohmann::json::parse(meta);
  EXPECT_EQ(doc["chunk_grid"]["configuration"]["chunk_shape"], (nlohmann::json{8, 16}));
  EXPECT_EQ(doc["codecs"][1]["name"], "gzip") << doc.dump();
  EXPECT_EQ(doc["attributes"]["_ARRAY_DIMENSIONS"], (nlohmann::json{"y", "x"})) << doc.dump();
  // zarr v3 default chunk keys (c/1/2), one per chunk written.
  std::vector<std::string> files = FilesUnder(out);
  ASSERT_EQ(files.size(), 19u);
  for (size_t f = 0; f + 1 < files.size(); ++f) EXPECT_TRUE(files[f].starts_with("c/")) << files[f];
  ASSERT_OK_AND_ASSIGN(nlohmann::json compared, CompareWithZarrita(root_.path() / "in", out));
  EXPECT_TRUE(compared["equal"].get<bool>()) << compared.dump();
  nlohmann::json stats =
      RunOne({{"op", "stats"}, {"source", {{"url", FileUrl(out)}}}}, "completed");
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(StatsMismatch(stats["result"], oracles[0]), "");
}

TEST_F(ShardedTranscodeTest, BadShardsAreRefusedNamingTheField) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<nlohmann::json> oracles,
      MakeArrays({{root_.path() / "in", {"--shape", "37,53", "--chunks", "8,16"}}}));
  const fs::path in = root_.path() / "in";
  const std::string out = FileUrl(root_.path() / "out");

  // The shape of the member: refused at submit.
  struct Submit {
    nlohmann::json sink;
    std::string path;
  };
  const std::vector<Submit> at_submit = {
      {{{"url", out}, {"shards", "16,32"}}, "/template/sink/shards"},
      {{{"url", out}, {"shards", {16, 0}}}, "/template/sink/shards"},
      {{{"url", out}, {"shards", {-16, 32}}}, "/template/sink/shards"},
      {{{"url", out}, {"shards", nlohmann::json::array()}}, "/template/sink/shards"},
      {{{"url", out}, {"shards", {16.5, 32}}}, "/template/sink/shards"},
      {{{"url", out}, {"shards", {16, 32}}, {"format", "zarr4"}}, "/template/sink/format"},
  };
  for (const Submit& c : at_submit) {
    SCOPED_TRACE(c.sink.dump());
    ASSERT_OK_AND_ASSIGN(nlohmann::json error,
                         PostJson(client(), "/api/v1/batches",
                                  {{"name", "bad"}, {"template", Transcode(in, c.sink)}}, 422));
    EXPECT_EQ(error["error"]["path"], c.path) << error.dump();
  }

  // What needs the array's metadata: refused when the session is prepared.
  struct Prepared {
    nlohmann::json job;
    std::string at;    // the member the session error names
    std::string says;  // part of the message
  };
  auto job = [&](nlohmann::json sink) { return Transcode(in, std::move(sink)); };
  nlohmann::json misaligned = job({{"url", out}, {"shards", {16, 32}}});
  misaligned["region"] = {{1, 3}, {0, 4}};
  nlohmann::json small_budget = job({{"url", out}, {"shards", {32, 64}}});
  small_budget["limits"] = {{"bytes_in_flight", 4096}};
  const std::vector<Prepared> at_prepare = {
      {job({{"url", out}, {"shards", {16}}}), "/sink/shards", "one entry per dimension"},
      {job({{"url", out}, {"shards", {12, 32}}}), "/sink/shards", "multiple of the chunk shape"},
      {job({{"url", out}, {"shards", {8 * 1024, 16 * 1024}}}), "/sink/shards", "256 MiB"},
      {job({{"url", out}, {"shards", {16, 32}}, {"format", "zarr2"}}), "/sink/shards",
       "zarr v2 sink cannot be sharded"},
      {small_budget, "/sink/shards", "bytes_in_flight"},
      {misaligned, "/region/0", "shard"},
      {job({{"url", out}, {"shards", {16, 32}}, {"codec", {{"id", "lz4"}}}}), "/sink/codec",
       "no zarr v3 codec"},
  };
  for (const Prepared& c : at_prepare) {
    SCOPED_TRACE(c.job.dump());
    nlohmann::json s = RunOne(c.job, "failed");
    ASSERT_TRUE(s.is_object());
    EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
    const std::string message = s["error"]["message"];
    EXPECT_NE(message.find("(at " + c.at + ")"), std::string::npos) << message;
    EXPECT_NE(message.find(c.says), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(root_.path() / "out")) << "nothing is written before the refusal";
  }
}

TEST_F(ShardedTranscodeTest, ADamagedSourceChunkFailsTheSessionInsteadOfHanging) {
  // Chunk 0.1 is damaged; its shard's other chunks are held for the shard when the session
  // stops, and must be let go (ChunkConsumer::OnStop) for the session to end at all.
  ASSERT_OK_AND_ASSIGN(
      std::vector<nlohmann::json> oracles,
      MakeArrays({{root_.path() / "in",
                   {"--shape", "37,53", "--chunks", "8,16", "--compressor", "zstd"}}}));
  {
    std::ofstream damaged(root_.path() / "in" / "0.1", std::ios::binary | std::ios::trunc);
    damaged << "not a zstd frame";
  }
  nlohmann::json s = RunOne(Transcode(root_.path() / "in", {{"url", FileUrl(root_.path() / "out")},
                                                            {"codec", {{"id", "zstd"}}},
                                                            {"shards", {16, 32}}}),
                            "failed");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
  const std::string message = s["error"]["message"];
  EXPECT_NE(message.find("chunk 0.1"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(root_.path() / "out" / "c" / "0" / "0"))
      << "the damaged chunk's shard is not written";
  EXPECT_FALSE(fs::exists(root_.path() / "out" / "zarr.json"));
}

// `nginx_port`: the server the session reads from. Frequent checkpoints, one read in flight:
// the session runs long enough to be killed in the middle (as pipeline_crash_test.cpp).
std::unique_ptr<DaemonProcess> StartSlowDaemon(const fs::path& data_dir, const fs::path& root,
                                               uint16_t nginx_port) {
  DaemonOptions options;
  options.binary = BATCHD_BINARY;
  options.data_dir = data_dir;
  options.extra_args = {"--slots",
                        "1",
                        "--checkpoint-interval-ms",
                        "20",
                        "--fetch-concurrency",
                        "1",
                        "--retry-backoff-ms",
                        "10",
                        "--file-root",
                        root.string(),
                        "--http-allow",
                        "127.0.0.1:" + std::to_string(nginx_port)};
  Result<std::unique_ptr<DaemonProcess>> d = DaemonProcess::Start(options);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(*d) : nullptr;
}

// Chunks the session's last checkpoint records as done (0 before the first).
int64_t CheckpointedChunks(const fs::path& db) {
  Result<std::map<int64_t, std::string>> checkpoints = ReadCheckpoints(db);
  if (!checkpoints.ok()) return 0;
  int64_t n = 0;
  for (const auto& [session, text] : *checkpoints) {
    const nlohmann::json checkpoint = nlohmann::json::parse(text);
    for (const auto& run : checkpoint["done"]) n += run[1].get<int64_t>() - run[0].get<int64_t>();
  }
  return n;
}

TEST(ShardedTranscodeCrashTest, KilledMidTranscodeResumesToTheSameValues) {
  constexpr int64_t kRows = 64, kCols = 32;  // 2048 chunks of 32 x 32 float32, 4 x 4 per shard
  TempDir root;
  const fs::path in = root.path() / "in", out = root.path() / "out";
  ASSERT_OK_AND_ASSIGN(
      std::vector<nlohmann::json> oracles,
      MakeArrays({{in,
                   {"--shape", std::to_string(kRows * 32) + "," + std::to_string(kCols * 32),
                    "--chunks", "32,32", "--compressor", "zstd", "--drop-chunks", "5"}}}));
  NginxOptions nginx_options;
  nginx_options.document_root = root.path();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NginxServer> nginx, NginxServer::Start(nginx_options));
  const nlohmann::json batch = {
      {"name", "reshard"},
      {"template",
       {{"op", "transcode"},
        {"source", {{"url", nginx->Url("/in")}}},
        {"sink", {{"url", FileUrl(out)}, {"codec", {{"id", "zstd"}}}, {"shards", {128, 128}}}}}}};

  TempDir data;
  std::unique_ptr<DaemonProcess> daemon = StartSlowDaemon(data.path(), root.path(), nginx->port());
  ASSERT_NE(daemon, nullptr);
  std::string id;
  {
    HttpClient client(daemon->port());
    ASSERT_OK_AND_ASSIGN(id, SubmitBatch(client, batch));
  }
  const fs::path db = data.path() / "batchd.db";
  int64_t at_kill = 0;
  const auto deadline = std::chrono::steady_clock::now() + kBatchTimeout;
  while ((at_kill = CheckpointedChunks(db)) < 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  daemon->Kill();
  at_kill = CheckpointedChunks(db);
  ASSERT_GT(at_kill, 0) << "no checkpoint before the kill";
  EXPECT_LT(at_kill, kRows * kCols) << "the kill came after the session's end: nothing resumed";
  RecordProperty("chunks_checkpointed_at_kill", static_cast<int>(at_kill));

  daemon = StartSlowDaemon(data.path(), root.path(), nginx->port());
  ASSERT_NE(daemon, nullptr);
  HttpClient client(daemon->port());
  ASSERT_OK_AND_ASSIGN(nlohmann::json finished,
                       WaitForBatchState(client, id, "completed", kBatchTimeout));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client, id));
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                       GetJson(client, "/api/v1/sessions/" + std::to_string(ids[0])));
  // Every chunk counted once over the two runs: none lost, none twice.
  EXPECT_EQ(s["result"]["chunks_written"], kRows * kCols - 5) << s.dump();
  std::vector<std::string> files = FilesUnder(out);
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files.back(), "zarr.json");
  for (size_t f = 0; f + 1 < files.size(); ++f) {
    EXPECT_EQ(files[f].find('.'), std::string::npos) << files[f] << " is not a shard key";
  }
  EXPECT_EQ(static_cast<int64_t>(files.size()) - 1, (kRows / 4) * (kCols / 4));
  EXPECT_EQ(s["result"]["shards_written"], (kRows / 4) * (kCols / 4));
  ASSERT_OK_AND_ASSIGN(nlohmann::json compared, CompareWithZarrita(in, out));
  EXPECT_TRUE(compared["equal"].get<bool>()) << compared.dump();
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon->Stop(SIGTERM));
  EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
}

}  // namespace
}  // namespace batchd::testing
