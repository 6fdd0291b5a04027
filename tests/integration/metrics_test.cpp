// GET /metrics on the real daemon (docs/metrics.md): the whole output is valid Prometheus text
// (every line read by the strict reader in tests/support), the families are exactly the ones
// docs/metrics.md lists, and the counters move by what was done: sessions claimed and
// finished, requests by route template and status, WebSocket clients, SQLite commits; and,
// after a stats batch over real zarr arrays, sessions by state equal the REST view and chunk and
// byte totals equal the sessions' progress and the chunk files on disk (issue 6, acceptance 6).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/event_stream_helpers.h"
#include "tests/support/prometheus_exposition.h"
#include "tests/support/sample_batches.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/websocket_client.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

using std::chrono::seconds;

class MetricsTest : public DaemonTest {
 protected:
  // Scrapes /metrics and reads it strictly; fails the test on an invalid exposition.
  PromExposition Scrape() {
    Result<HttpResponse> r = client().Get("/metrics");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << r->Describe();
    EXPECT_EQ(r->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    Result<PromExposition> e = ParsePromExposition(r->body);
    EXPECT_TRUE(e.ok()) << e.status().ToString() << "\n" << r->body;
    return e.ok() ? *e : PromExposition{};
  }
};

// name -> type of every row of docs/metrics.md's table.
std::map<std::string, std::string> DocumentedFamilies() {
  std::ifstream in(std::string(BATCHD_SOURCE_DIR) + "/docs/metrics.md");
  std::stringstream text;
  text << in.rdbuf();
  std::map<std::string, std::string> out;
  const std::regex row(R"(\| `([a-z_:]+)` \| (counter|gauge|histogram) \|)");
  const std::string doc = text.str();
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it) {
    out[(*it)[1]] = (*it)[2];
  }
  return out;
}

TEST_F(MetricsTest, ServesValidTextWithExactlyTheDocumentedFamilies) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  ASSERT_EQ(health.status, 200);
  const PromExposition e = Scrape();
  std::map<std::string, std::string> served;
  for (const PromFamily& f : e.families) served[f.name] = f.type;
  const std::map<std::string, std::string> documented = DocumentedFamilies();
  ASSERT_GE(documented.size(), 30u) << "docs/metrics.md's table did not parse";
  EXPECT_EQ(served, documented);
  EXPECT_EQ(e.ValueOr0("batchd_http_requests_total", {{"route", "GET /healthz"}, {"code", "200"}}),
            1);
  EXPECT_GT(e.ValueOr0("process_resident_memory_bytes"), 1 << 20);
  EXPECT_EQ(e.ValueOr0("batchd_sessions", {{"state", "uninitialized"}}), 0);
}

TEST_F(MetricsTest, CountersMoveByTheWorkDone) {
  constexpr int kSessions = 300;
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const PromExposition before = Scrape();
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SimpleBatch("metrics", kSessions)));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(client(), id, "completed", seconds(60)));
  const PromExposition after_work = Scrape();
  auto moved = [&](const PromExposition& a, const PromExposition& b, const char* name,
                   const PromLabels& labels = {}) {
    return b.ValueOr0(name, labels) - a.ValueOr0(name, labels);
  };
  EXPECT_EQ(moved(before, after_work, "batchd_sessions_claimed_total"), kSessions);
  EXPECT_EQ(moved(before, after_work, "batchd_session_outcomes_total", {{"outcome", "completed"}}),
            kSessions);
  EXPECT_GE(moved(before, after_work, "batchd_scheduler_claims_total"), 1);
  EXPECT_EQ(after_work.ValueOr0("batchd_sessions", {{"state", "completed"}}), kSessions);
  EXPECT_EQ(after_work.ValueOr0("batchd_queue_depth"), 0);
  EXPECT_GE(moved(before, after_work, "batchd_sqlite_commits_total"), 1);
  EXPECT_GE(moved(before, after_work, "batchd_sqlite_commit_duration_seconds_count"), 1);
  EXPECT_GE(moved(before, after_work, "batchd_events_published_total"), 3);
  EXPECT_EQ(moved(before, after_work, "batchd_http_requests_total",
                  {{"route", "POST /api/v1/batches"}, {"code", "201"}}),
            1);

  // Requests by route template and status, exactly as many as were made.
  constexpr int kReads = 7;
  for (int i = 0; i < kReads; ++i) {
    ASSERT_OK_AND_ASSIGN(HttpResponse r, client().Get("/api/v1/batches/" + id));
    ASSERT_EQ(r.status, 200);
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse missing, client().Get("/api/v1/batches/00000000000000ff"));
  ASSERT_EQ(missing.status, 404);
  ASSERT_OK_AND_ASSIGN(HttpResponse nowhere, client().Get("/no/such/route"));
  ASSERT_EQ(nowhere.status, 404);
  const PromExposition after_reads = Scrape();
  const std::string route = "GET /api/v1/batches/{id}";
  EXPECT_EQ(moved(after_work, after_reads, "batchd_http_requests_total",
                  {{"route", route}, {"code", "200"}}),
            kReads);
  EXPECT_EQ(moved(after_work, after_reads, "batchd_http_requests_total",
                  {{"route", route}, {"code", "404"}}),
            1);
  EXPECT_EQ(moved(after_work, after_reads, "batchd_http_request_duration_seconds_count",
                  {{"route", route}}),
            kReads + 1);
  EXPECT_EQ(moved(after_work, after_reads, "batchd_http_requests_total",
                  {{"route", "unmatched"}, {"code", "404"}}),
            1);
  // The scrape in progress is the only request in flight.
  EXPECT_EQ(after_reads.ValueOr0("batchd_http_requests_in_flight"), 1);
  for (const PromFamily& f : after_reads.families) {
    for (const PromSample& s : f.samples) {
      auto r = s.labels.find("route");
      EXPECT_TRUE(r == s.labels.end() || r->second.find(id) == std::string::npos)
          << "a raw path in a route label: " << r->second;
    }
  }
}

TEST_F(MetricsTest, WebSocketClientsAreCountedWhileConnected) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  {
    ASSERT_OK_AND_ASSIGN(auto a, WebSocketClient::Connect(daemon().port(), "/api/v1/events"));
    ASSERT_OK_AND_ASSIGN(auto b, WebSocketClient::Connect(daemon().port(), "/api/v1/events"));
    ASSERT_OK_AND_ASSIGN(nlohmann::json hello_a, ReadHello(*a));
    ASSERT_OK_AND_ASSIGN(nlohmann::json hello_b, ReadHello(*b));
    const PromExposition e = Scrape();
    EXPECT_EQ(e.ValueOr0("batchd_websocket_clients"), 2);
    EXPECT_EQ(e.ValueOr0("batchd_websocket_subscriptions_total"), 2);
    ASSERT_TRUE(a->SendClose(1000).ok());
    ASSERT_TRUE(b->SendClose(1000).ok());
  }
  ASSERT_OK_AND_ASSIGN(nlohmann::json gone,
                       WaitForJson(
                           client(), "/healthz",
                           [](const nlohmann::json& h) { return h["events"]["subscribers"] == 0; },
                           seconds(10), "the subscribers to leave"));
  EXPECT_EQ(Scrape().ValueOr0("batchd_websocket_clients"), 0);
}

// Encoded bytes a store read for `array`: the sizes of its chunk files (every file but the
// dot-named metadata, at any depth for the "/" separator).
int64_t ChunkFileBytes(const std::filesystem::path& array) {
  int64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(array)) {
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') {
      bytes += static_cast<int64_t>(entry.file_size());
    }
  }
  return bytes;
}

int64_t ProgressOf(const nlohmann::json& session, const char* key) {
  return session["progress"].is_null() ? 0 : session["progress"][key].get<int64_t>();
}

// Acceptance 6: after a stats batch over real zarr arrays (one session per array, one of them
// failing), the scrape's session figures equal what the REST API shows, state by state, and its
// chunk and byte totals equal the sessions' progress and the arrays on disk.
TEST_F(MetricsTest, SessionAndChunkFiguresMatchTheRestViewAfterAStatsBatch) {
  TempDir arrays;
  struct Array {
    std::string name;
    std::vector<std::string> args;
    int64_t chunks;       // the chunk grid's size
    int64_t chunk_bytes;  // decoded, a whole chunk (edge chunks are stored whole too)
  };
  const std::vector<Array> good = {
      // 5 x 4 chunks of 8 x 16 float32, two chunk files missing (read as the fill value).
      {"a",
       {"--shape", "37,53", "--chunks", "8,16", "--dtype", "<f4", "--compressor", "zstd",
        "--drop-chunks", "2"},
       5 * 4,
       8 * 16 * 4},
      // 7 x 3 chunks of 16 x 32 big-endian float64 in nested directories.
      {"b",
       {"--shape", "100,90", "--chunks", "16,32", "--dtype", ">f8", "--compressor", "blosc-lz4",
        "--separator", "/"},
       7 * 3,
       16 * 32 * 8},
      // 4 uncompressed chunks of 10 bytes.
      {"c", {"--shape", "33", "--chunks", "10", "--dtype", "|u1", "--compressor", "none"}, 4, 10},
  };
  std::vector<ArraySpec> specs;
  for (const Array& a : good) specs.push_back({arrays.path() / a.name, a.args});
  specs.push_back({arrays.path() / "lzma", {"--shape", "20,20", "--chunks", "10,10"}});
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs));
  {
    // A codec batchd does not have: the session fails on the metadata, before any chunk read.
    const auto zarray = arrays.path() / "lzma" / ".zarray";
    nlohmann::json doc = nlohmann::json::parse(std::ifstream(zarray));
    doc["compressor"] = {{"id", "lzma"}, {"preset", 1}};
    std::ofstream(zarray, std::ios::trunc) << doc.dump();
  }
  int64_t expected_chunks = 0, expected_decoded = 0, expected_read = 0;
  for (const Array& a : good) {
    expected_chunks += a.chunks;
    expected_decoded += a.chunks * a.chunk_bytes;
    expected_read += ChunkFileBytes(arrays.path() / a.name);
  }
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", arrays.path().string()}));
  const PromExposition before = Scrape();

  std::vector<std::string> urls;
  for (const ArraySpec& s : specs) urls.push_back(FileUrl(s.path));
  nlohmann::json batch = {{"name", "chunks"},
                          {"template", {{"op", "stats"}, {"source", {{"url", urls.front()}}}}},
                          {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(nlohmann::json done, WaitForBatchState(client(), id, "failed", seconds(60)));
  const PromExposition after = Scrape();
  auto moved = [&](const char* name, const PromLabels& labels = {}) {
    return after.ValueOr0(name, labels) - before.ValueOr0(name, labels);
  };

  // The REST view: every session's detail, and the batch's and the queue's counts.
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, SessionIdsOf(client(), id));
  ASSERT_EQ(ids.size(), specs.size());
  std::map<std::string, int64_t> sessions_by_state;
  int64_t chunks_done = 0, chunks_total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(nlohmann::json s,
                         GetJson(client(), "/api/v1/sessions/" + std::to_string(ids[i])));
    ++sessions_by_state[s["state"].get<std::string>()];
    if (i < good.size()) {
      EXPECT_EQ(StatsMismatch(s["result"], oracles[i]), "") << s.dump();
    }
    chunks_done += ProgressOf(s, "chunks_done");
    chunks_total += ProgressOf(s, "chunks_total");
  }
  EXPECT_EQ(sessions_by_state, (std::map<std::string, int64_t>{{"completed", 3}, {"error", 1}}));
  ASSERT_OK_AND_ASSIGN(nlohmann::json queue, GetJson(client(), "/api/v1/queue"));
  for (const char* state : {"uninitialized", "in_progress", "completed", "error", "canceled"}) {
    SCOPED_TRACE(state);
    const int64_t rest = sessions_by_state.contains(state) ? sessions_by_state[state] : 0;
    EXPECT_EQ(after.ValueOr0("batchd_sessions", {{"state", state}}), rest);
    EXPECT_EQ(done["counts"][state].get<int64_t>(), rest) << done.dump();
    EXPECT_EQ(queue["counts"][state].get<int64_t>(), rest) << queue.dump();
  }
  EXPECT_EQ(after.ValueOr0("batchd_queue_depth"), 0);
  EXPECT_EQ(after.ValueOr0("batchd_batches_active"), 0);
  // Every session claimed once and ended once, as the REST view says.
  EXPECT_EQ(moved("batchd_sessions_claimed_total"), static_cast<int64_t>(specs.size()));
  EXPECT_EQ(moved("batchd_session_outcomes_total", {{"outcome", "completed"}}),
            sessions_by_state["completed"]);
  EXPECT_EQ(moved("batchd_session_outcomes_total", {{"outcome", "error"}}),
            sessions_by_state["error"]);
  EXPECT_EQ(moved("batchd_session_outcomes_total", {{"outcome", "requeued"}}), 0);

  // Chunks: the sessions' progress, the arrays' grids, and the bytes on disk.
  EXPECT_EQ(chunks_done, expected_chunks);
  EXPECT_EQ(chunks_total, expected_chunks);
  EXPECT_EQ(moved("batchd_chunks_total", {{"result", "done"}}), chunks_done);
  EXPECT_EQ(moved("batchd_chunks_total", {{"result", "failed"}}), 0);
  EXPECT_EQ(moved("batchd_chunks_total", {{"result", "dropped"}}), 0);
  EXPECT_EQ(moved("batchd_chunk_bytes_decoded_total"), expected_decoded);
  EXPECT_EQ(moved("batchd_chunk_bytes_read_total"), expected_read);
  EXPECT_EQ(after.ValueOr0("batchd_chunk_bytes_in_flight"), 0);
  EXPECT_EQ(after.ValueOr0("batchd_chunk_reads_in_flight"), 0);
  EXPECT_EQ(after.ValueOr0("batchd_chunk_pipelines_running"), 0);
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());
}

}  // namespace
}  // namespace batchd::testing
