// Chaos: a mixed batch (stats, transcode and sleep sessions) while the daemon is SIGKILLed at 20
// random moments and restarted each time. At the end every session ended exactly once and
// completed, the counters equal the rows, the stats equal a clean run's to the last bit, the
// transcoded arrays are byte-identical to a clean run's, and no temp file is left anywhere.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr int kKills = 20;
constexpr auto kTimeout = std::chrono::seconds(300);

std::unique_ptr<DaemonProcess> Start(const std::filesystem::path& data_dir,
                                     const std::filesystem::path& root) {
  DaemonOptions options;
  options.binary = BATCHD_BINARY;
  options.data_dir = data_dir;
  options.extra_args = {"--file-root",
                        root.string(),
                        "--slots",
                        "3",
                        "--checkpoint-interval-ms",
                        "20",
                        "--fetch-concurrency",
                        "2",
                        "--retry-backoff-ms",
                        "10"};
  Result<std::unique_ptr<DaemonProcess>> d = DaemonProcess::Start(options);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(*d) : nullptr;
}

// One session per row: stats of each array, transcode of each array into `out`, and sleeps.
nlohmann::json MixedBatch(const std::vector<std::filesystem::path>& arrays,
                          const std::filesystem::path& out) {
  nlohmann::json ops = nlohmann::json::array(), sources = nlohmann::json::array(),
                 sinks = nlohmann::json::array();
  auto add = [&](const std::string& op, const std::filesystem::path& in, const std::string& sink) {
    ops.push_back(op);
    sources.push_back(FileUrl(in));
    sinks.push_back(FileUrl(out / sink));
  };
  for (size_t i = 0; i < arrays.size(); ++i) {
    add("stats", arrays[i], "unused" + std::to_string(i));
    add("transcode", arrays[i], "t" + std::to_string(i));
    add("sleep", arrays[i], "unused-sleep" + std::to_string(i));
  }
  return {{"name", "chaos"},
          {"template",
           {{"op", "stats"},
            {"ms", 400},
            {"source", {{"url", sources[0]}}},
            {"sink", {{"url", sinks[0]}, {"codec", {{"id", "zstd"}, {"level", 3}}}}}}},
          {"data",
           {{{{"field", "/op"}, {"items", ops}},
             {{"field", "/source/url"}, {"items", sources}},
             {{"field", "/sink/url"}, {"items", sinks}}}}}};
}

// Every session's state and result by ordinal.
std::map<int64_t, nlohmann::json> Sessions(HttpClient& client, const std::string& id) {
  std::map<int64_t, nlohmann::json> out;
  Result<std::vector<int64_t>> ids = SessionIdsOf(client, id);
  EXPECT_TRUE(ids.ok());
  if (!ids.ok()) return out;
  for (int64_t sid : *ids) {
    Result<nlohmann::json> s = GetJson(client, "/api/v1/sessions/" + std::to_string(sid));
    if (s.ok()) out[(*s)["ordinal"].get<int64_t>()] = *s;
  }
  return out;
}

// Relative path -> bytes of every file under `dir`.
std::map<std::string, std::string> Files(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[std::filesystem::relative(e.path(), dir).string()] =
        std::string(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

TEST(ChaosTest, TwentyKillsLeaveEverySessionDoneOnceWithTheCleanRunsResults) {
  TempDir root;
  std::vector<ArraySpec> specs = {
      {root.path() / "in" / "zstd",
       {"--shape", "600,400", "--chunks", "16,16", "--compressor", "zstd"}},
      {root.path() / "in" / "blosc",
       {"--shape", "600,400", "--chunks", "16,16", "--compressor", "blosc-lz4", "--dtype", ">f8",
        "--drop-chunks", "3"}},
      {root.path() / "in" / "lz4",
       {"--shape", "600,400", "--chunks", "16,16", "--compressor", "lz4", "--dtype", "<i2",
        "--separator", "/"}},
  };
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  std::vector<std::filesystem::path> arrays;
  for (const ArraySpec& s : specs) arrays.push_back(s.path);

  // The clean run.
  std::map<int64_t, nlohmann::json> clean;
  {
    TempDir data;
    std::unique_ptr<DaemonProcess> daemon = Start(data.path(), root.path());
    ASSERT_NE(daemon, nullptr);
    HttpClient client(daemon->port());
    ASSERT_OK_AND_ASSIGN(std::string id,
                         SubmitBatch(client, MixedBatch(arrays, root.path() / "clean")));
    ASSERT_OK_AND_ASSIGN(nlohmann::json done, WaitForBatchState(client, id, "completed", kTimeout));
    clean = Sessions(client, id);
  }

  // The chaos run: SIGKILL at 20 random moments, a restart after each.
  TempDir data;
  std::mt19937 rng(std::random_device{}());
  const uint32_t seed = rng();
  RecordProperty("seed", static_cast<int>(seed));
  std::mt19937 moments(seed);
  std::unique_ptr<DaemonProcess> daemon = Start(data.path(), root.path());
  ASSERT_NE(daemon, nullptr);
  std::string id;
  {
    HttpClient client(daemon->port());
    ASSERT_OK_AND_ASSIGN(id, SubmitBatch(client, MixedBatch(arrays, root.path() / "chaos")));
  }
  for (int kill = 0; kill < kKills; ++kill) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 250)(moments)));
    daemon->Kill();
    daemon = Start(data.path(), root.path());
    ASSERT_NE(daemon, nullptr) << "restart after kill " << kill << " (seed " << seed << ")";
  }
  HttpClient client(daemon->port());
  ASSERT_OK_AND_ASSIGN(nlohmann::json done, WaitForBatch(
                                                client, id,
                                                [](const nlohmann::json& b) {
                                                  const std::string s = b["state"];
                                                  return s == "completed" || s == "failed" ||
                                                         s == "canceled";
                                                },
                                                kTimeout, "the chaos batch to end"));
  if (done["state"] != "completed") {
    std::string errors;
    for (const auto& [ordinal, s] : Sessions(client, id)) {
      if (s["state"] != "completed") errors += s.dump() + "\n";
    }
    FAIL() << "the batch ended " << done.dump() << " (seed " << seed << ")\n"
           << errors << daemon->LogTail();
  }

  // Exactly once: every session completed, the counters equal the rows.
  EXPECT_EQ(done["counts"]["completed"], done["sessions"]) << done.dump();
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(data.path() / "batchd.db"));
  for (const auto& [batch, audit] : audits) EXPECT_EQ(audit.counters, audit.rows) << batch;

  // The kills did land in the middle of work: sessions that were running were claimed again.
  int interrupted = 0;
  for (const auto& [ordinal, s] : Sessions(client, id)) interrupted += s["attempts"] > 1 ? 1 : 0;
  EXPECT_GT(interrupted, 0) << "no kill interrupted a session (seed " << seed << ")";
  RecordProperty("sessions_interrupted", interrupted);

  // The same results as the clean run.
  std::map<int64_t, nlohmann::json> chaos = Sessions(client, id);
  ASSERT_EQ(chaos.size(), clean.size());
  for (const auto& [ordinal, s] : chaos) {
    SCOPED_TRACE("ordinal " + std::to_string(ordinal) + " seed " + std::to_string(seed));
    EXPECT_EQ(s["state"], "completed");
    if (s["execution_state"]["job"]["op"] == "stats") {
      EXPECT_EQ(s["result"], clean[ordinal]["result"]);
      EXPECT_EQ(StatsMismatch(s["result"], oracles[static_cast<size_t>(ordinal / 3)]), "");
    }
  }
  // Byte-identical transcodes, and no temp files anywhere under the sinks.
  const std::map<std::string, std::string> a = Files(root.path() / "clean");
  const std::map<std::string, std::string> b = Files(root.path() / "chaos");
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [path, bytes] : a) {
    auto it = b.find(path);
    ASSERT_NE(it, b.end()) << path << " missing after chaos (seed " << seed << ")";
    EXPECT_TRUE(it->second == bytes) << path << " differs (seed " << seed << ")";
  }
  for (const auto& [path, bytes] : b) {
    EXPECT_EQ(path.find(".tmp-"), std::string::npos) << "temp file left behind: " << path;
  }
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon->Stop());
  EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
}

}  // namespace
}  // namespace batchd::testing
