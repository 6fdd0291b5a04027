// kill -9 in the middle of a multi-session stats batch read over http: after restarts, every
// session's result equals a clean run's exactly, the counters equal the rows, and no resumed
// session fetched again a chunk its last checkpoint recorded as done (nginx's access log is
// the witness: it counts every read).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/nginx_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr int kArrays = 4;
constexpr int kGridRows = 128, kGridCols = 32;  // 4096 chunks of 32 x 32 float32 per array
constexpr auto kTimeout = std::chrono::seconds(240);

// `nginx_port`: the server the sessions read from, which --http-allow must list.
std::unique_ptr<DaemonProcess> Start(const std::filesystem::path& data_dir, uint16_t nginx_port) {
  DaemonOptions options;
  options.binary = BATCHD_BINARY;
  options.data_dir = data_dir;
  // Frequent checkpoints so a kill lands after some; one read in flight per session so the
  // batch runs long enough to be killed in the middle.
  options.extra_args = {"--slots",
                        "2",
                        "--checkpoint-interval-ms",
                        "20",
                        "--fetch-concurrency",
                        "1",
                        "--retry-backoff-ms",
                        "10",
                        "--http-allow",
                        "127.0.0.1:" + std::to_string(nginx_port)};
  Result<std::unique_ptr<DaemonProcess>> d = DaemonProcess::Start(options);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(*d) : nullptr;
}

// Each session's result by its array URL.
std::map<std::string, nlohmann::json> Results(HttpClient& client, const std::string& id) {
  std::map<std::string, nlohmann::json> out;
  Result<std::vector<int64_t>> ids = SessionIdsOf(client, id);
  EXPECT_TRUE(ids.ok());
  if (!ids.ok()) return out;
  for (int64_t sid : *ids) {
    Result<nlohmann::json> s = GetJson(client, "/api/v1/sessions/" + std::to_string(sid));
    if (s.ok()) out[(*s)["values"]["/source/url"].get<std::string>()] = (*s)["result"];
  }
  return out;
}

// The chunk keys each session's checkpoint records as done, by session id.
std::map<int64_t, std::set<std::string>> CheckpointedKeys(const std::filesystem::path& db) {
  std::map<int64_t, std::set<std::string>> out;
  Result<std::map<int64_t, std::string>> checkpoints = ReadCheckpoints(db);
  EXPECT_TRUE(checkpoints.ok()) << checkpoints.status().ToString();
  if (!checkpoints.ok()) return out;
  for (const auto& [session, text] : *checkpoints) {
    const nlohmann::json checkpoint = nlohmann::json::parse(text);  // outlives the loop
    for (const auto& run : checkpoint["done"]) {
      for (int64_t n = run[0].get<int64_t>(); n < run[1].get<int64_t>(); ++n) {
        out[session].insert(std::to_string(n / kGridCols) + "." + std::to_string(n % kGridCols));
      }
    }
  }
  return out;
}

size_t FileSize(const std::filesystem::path& p) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : static_cast<size_t>(n);
}

// GET paths nginx logged between byte offsets `begin` and `end`.
std::vector<std::string> GetsBetween(const std::filesystem::path& log, size_t begin, size_t end) {
  std::ifstream in(log);
  std::string text(end - begin, '\0');
  in.seekg(static_cast<std::streamoff>(begin));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  std::istringstream lines(text);
  std::vector<std::string> paths;
  std::string method, uri, status;
  while (lines >> method >> uri >> status) {
    if (method == "GET") paths.push_back(uri);
  }
  return paths;
}

size_t CountKeys(const std::map<int64_t, std::set<std::string>>& done) {
  size_t n = 0;
  for (const auto& [session, keys] : done) n += keys.size();
  return n;
}

TEST(PipelineCrashTest, KilledMidBatchResumesFromCheckpointsWithExactResults) {
  TempDir root;
  std::vector<ArraySpec> specs;
  for (int i = 0; i < kArrays; ++i) {
    specs.push_back(
        {root.path() / ("a" + std::to_string(i)),
         {"--shape", std::to_string(kGridRows * 32) + "," + std::to_string(kGridCols * 32),
          "--chunks", "32,32", "--compressor", "zstd", "--seed", std::to_string(i)}});
  }
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  NginxOptions nginx_options;
  nginx_options.document_root = root.path();
  nginx_options.access_log = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NginxServer> nginx, NginxServer::Start(nginx_options));
  std::vector<std::string> urls;
  for (const ArraySpec& s : specs) urls.push_back(nginx->Url("/" + s.path.filename().string()));
  const nlohmann::json batch = {{"name", "crash"},
                                {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
                                {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};

  // The clean run, in its own data dir.
  std::map<std::string, nlohmann::json> clean;
  {
    TempDir data;
    std::unique_ptr<DaemonProcess> daemon = Start(data.path(), nginx->port());
    ASSERT_NE(daemon, nullptr);
    HttpClient client(daemon->port());
    ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client, batch));
    ASSERT_OK_AND_ASSIGN(nlohmann::json done, WaitForBatchState(client, id, "completed", kTimeout));
    clean = Results(client, id);
    for (int i = 0; i < kArrays; ++i) EXPECT_EQ(StatsMismatch(clean[urls[i]], oracles[i]), "");
  }

  // The crash run: killed twice while sessions are part-way, each time after a checkpoint.
  TempDir data;
  std::unique_ptr<DaemonProcess> daemon = Start(data.path(), nginx->port());
  ASSERT_NE(daemon, nullptr);
  std::string id;
  {
    HttpClient client(daemon->port());
    ASSERT_OK_AND_ASSIGN(id, SubmitBatch(client, batch));
  }
  const std::filesystem::path db = data.path() / "batchd.db";
  // For each restart: where nginx's log stood, and what the checkpoints had done at the kill.
  struct Resume {
    size_t log_offset;
    std::map<int64_t, std::set<std::string>> done;
  };
  std::vector<Resume> resumes;
  for (int kill = 0; kill < 2; ++kill) {
    // Wait until clearly more chunks are checkpointed than at the previous kill.
    const size_t before = resumes.empty() ? 0 : CountKeys(resumes.back().done);
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    constexpr size_t kAll = static_cast<size_t>(kArrays) * kGridRows * kGridCols;
    size_t now_done = 0;
    while ((now_done = CountKeys(CheckpointedKeys(db))) <= before + 50 && now_done < kAll &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::string log = daemon->LogTail();
    daemon->Kill();
    // What the database says now is where the next start resumes.
    resumes.push_back({FileSize(nginx->AccessLogPath()), CheckpointedKeys(db)});
    ASSERT_GT(CountKeys(resumes.back().done), before)
        << "no new checkpoint before kill " << kill << "; batchd log:\n"
        << log;
    daemon = Start(data.path(), nginx->port());
    ASSERT_NE(daemon, nullptr);
  }
  HttpClient client(daemon->port());
  ASSERT_OK_AND_ASSIGN(nlohmann::json finished,
                       WaitForBatchState(client, id, "completed", kTimeout));
  const size_t log_end = FileSize(nginx->AccessLogPath());

  std::map<int64_t, std::string> path_of;  // session -> "/a0/"
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client, id));
  for (int64_t sid : ids) {
    ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                         GetJson(client, "/api/v1/sessions/" + std::to_string(sid)));
    const std::string url = s["values"]["/source/url"];
    path_of[sid] = url.substr(url.find('/', 7)) + "/";
  }
  // At least one kill caught a session part-way through its chunks.
  int partial = 0;
  for (const Resume& r : resumes) {
    for (const auto& [sid, keys] : r.done) partial += keys.size() < kGridRows * kGridCols ? 1 : 0;
  }
  EXPECT_GT(partial, 0) << "every kill came between sessions: nothing was resumed mid-way";
  RecordProperty("sessions_killed_part_way", partial);
  int resumed_reads = 0;
  for (size_t r = 0; r < resumes.size(); ++r) {
    const size_t until = r + 1 < resumes.size() ? resumes[r + 1].log_offset : log_end;
    const std::vector<std::string> gets =
        GetsBetween(nginx->AccessLogPath(), resumes[r].log_offset, until);
    for (const auto& [sid, keys] : resumes[r].done) {
      for (const std::string& path : gets) {
        if (!path.starts_with(path_of[sid])) continue;
        ++resumed_reads;
        EXPECT_EQ(keys.count(path.substr(path_of[sid].size())), 0u)
            << "session " << sid << " read " << path << " again after kill " << r
            << ", though its checkpoint had it done";
      }
    }
  }
  RecordProperty("chunk_reads_by_resumed_sessions", resumed_reads);

  std::map<std::string, nlohmann::json> resumed = Results(client, id);
  for (const std::string& url : urls) {
    EXPECT_EQ(resumed[url], clean[url]) << url << ": a resumed session must equal the clean run";
  }
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(db));
  for (const auto& [batch_id, audit] : audits) {
    EXPECT_EQ(audit.counters, audit.rows) << batch_id;
    EXPECT_EQ(audit.rows.completed, kArrays);
  }
  ASSERT_OK_AND_ASSIGN(nlohmann::json b, GetJson(client, "/api/v1/batches/" + id));
  EXPECT_EQ(b["result"]["sessions"], kArrays);
  EXPECT_EQ(b["result"]["count"], kArrays * kGridRows * 32 * kGridCols * 32);
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, daemon->Stop(SIGTERM));
  EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
}

}  // namespace
}  // namespace batchd::testing
