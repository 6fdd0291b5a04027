// GET /metrics' text from a snapshot of known figures (api/metrics_text.h): every family is
// valid Prometheus text (read back by the strict reader in tests/support), carries the figures
// it was given, and HTTP requests are counted by route template and status, never by raw path.
// The strict reader itself is checked against broken expositions at the end.
#include "api/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>

#include "api/router.h"
#include "tests/support/prometheus_exposition.h"

namespace batchd::api {
namespace {

using testing::ParsePromExposition;
using testing::PromExposition;

MetricsSnapshot SampleSnapshot() {
  MetricsSnapshot s;
  s.version = "9.9.9";
  storage::QueueStatus q;
  q.counts = {.uninitialized = 10, .in_progress = 2, .completed = 30, .error = 4, .canceled = 5};
  q.batches_active = 3;
  q.paused = true;
  s.queue = q;
  s.store.writer_queue_depth = 7;
  s.store.reader_queue_depth = 1;
  s.store.writer_commits = 100;
  s.store.writer_steps = 400;
  LatencyHistogram commit;
  commit.Observe(std::chrono::microseconds(300));
  commit.Observe(std::chrono::milliseconds(20));
  s.store.commit_latency = commit.Read();
  s.store.transaction_latency = LatencyHistogram().Read();
  s.scheduler = {.slots = 4,
                 .running = 2,
                 .sessions_per_s = 1.5,
                 .claims = 11,
                 .sessions_claimed = 41,
                 .outcomes_completed = 30,
                 .outcomes_error = 4,
                 .outcomes_canceled = 5,
                 .outcomes_requeued = 1};
  s.events = EventHub::Stats{.subscribers = 200, .latest_seq = 999, .subscriptions = 250};
  s.pipeline = {.chunks_done = 64, .bytes_read = 1 << 20, .bytes_in_flight = -5};
  s.process = ProcessStats{.resident_bytes = 50 << 20, .cpu_seconds = 1.25};
  s.nodes = std::vector<storage::NodeRecord>{{.id = 3, .state = "alive", .running = 4},
                                             {.id = 2, .state = "dead", .running = 0},
                                             {.id = 1, .state = "alive", .running = 2},
                                             {.id = 0, .state = "stopped", .running = 0}};
  return s;
}

PromExposition Parse(const std::string& text) {
  Result<PromExposition> e = ParsePromExposition(text);
  EXPECT_TRUE(e.ok()) << e.status().ToString() << "\n" << text;
  return e.ok() ? *e : PromExposition{};
}

TEST(MetricsTextTest, EveryFamilyIsValidAndCarriesItsFigure) {
  const PromExposition e = Parse(MetricsText(SampleSnapshot()));
  EXPECT_EQ(e.Value("batchd_build_info", {{"version", "9.9.9"}}), 1);
  EXPECT_EQ(e.Value("batchd_sessions", {{"state", "uninitialized"}}), 10);
  EXPECT_EQ(e.Value("batchd_sessions", {{"state", "canceled"}}), 5);
  EXPECT_EQ(e.Value("batchd_queue_depth"), 10);
  EXPECT_EQ(e.Value("batchd_queue_paused"), 1);
  EXPECT_EQ(e.Value("batchd_scheduler_slots_busy"), 2);
  EXPECT_EQ(e.Value("batchd_nodes", {{"state", "alive"}}), 2);
  EXPECT_EQ(e.Value("batchd_nodes", {{"state", "dead"}}), 1);
  EXPECT_EQ(e.Value("batchd_nodes", {{"state", "stopped"}}), 1);
  EXPECT_EQ(e.Value("batchd_nodes_running_sessions"), 6);
  EXPECT_EQ(e.Value("batchd_sessions_claimed_total"), 41);
  EXPECT_EQ(e.Value("batchd_session_outcomes_total", {{"outcome", "requeued"}}), 1);
  EXPECT_EQ(e.Value("batchd_scheduler_sessions_per_second"), 1.5);
  EXPECT_EQ(e.Value("batchd_chunks_total", {{"result", "done"}}), 64);
  EXPECT_EQ(e.Value("batchd_chunk_bytes_read_total"), 1 << 20);
  EXPECT_EQ(e.Value("batchd_chunk_bytes_in_flight"), 0) << "a sharded gauge's dip below zero";
  EXPECT_EQ(e.Value("batchd_websocket_clients"), 200);
  EXPECT_EQ(e.Value("batchd_sqlite_writer_queue_depth"), 7);
  EXPECT_EQ(e.Value("batchd_sqlite_commits_total"), 100);
  EXPECT_EQ(e.Value("batchd_sqlite_commit_duration_seconds_bucket", {{"le", "0.0005"}}), 1);
  EXPECT_EQ(e.Value("batchd_sqlite_commit_duration_seconds_bucket", {{"le", "0.025"}}), 2);
  EXPECT_EQ(e.Value("batchd_sqlite_commit_duration_seconds_count"), 2);
  EXPECT_EQ(e.Value("batchd_sqlite_transaction_duration_seconds_count"), 0);
  EXPECT_EQ(e.Value("process_resident_memory_bytes"), 50 << 20);
  EXPECT_EQ(e.Value("process_cpu_seconds_total"), 1.25);
  for (const auto& f : e.families) EXPECT_FALSE(f.help.empty()) << f.name;
}

TEST(MetricsTextTest, WithoutQueueStatusEventsOrProcessThoseFamiliesAreLeftOut) {
  MetricsSnapshot s = SampleSnapshot();
  s.queue.reset();
  s.events.reset();
  s.process.reset();
  s.nodes.reset();
  const PromExposition e = Parse(MetricsText(s));
  EXPECT_EQ(e.Find("batchd_sessions"), nullptr);
  EXPECT_EQ(e.Find("batchd_nodes"), nullptr);
  EXPECT_EQ(e.Find("batchd_websocket_clients"), nullptr);
  EXPECT_EQ(e.Find("process_resident_memory_bytes"), nullptr);
  EXPECT_NE(e.Find("batchd_sqlite_commits_total"), nullptr);
}

TEST(MetricsTextTest, HttpRequestsAreCountedByRouteTemplateAndStatus) {
  Router router;
  router.Add("GET", "/api/v1/batches/{id}", [](HttpRequest& r, Responder respond) {
    respond({.status = r.path_params.at("id") == "missing" ? 404 : 200});
  });
  auto dispatch = [&](std::string method, std::string path) {
    HttpRequest request{.method = std::move(method), .path = std::move(path)};
    router.Dispatch(request, [](HttpResponse) {});
  };
  dispatch("GET", "/api/v1/batches/aaaa");
  dispatch("GET", "/api/v1/batches/bbbb");
  dispatch("GET", "/api/v1/batches/missing");
  dispatch("GET", "/nothing/here");
  dispatch("DELETE", "/api/v1/batches/aaaa");
  MetricsSnapshot s = SampleSnapshot();
  s.http = &router.metrics();
  const std::string text = MetricsText(s);
  const PromExposition e = Parse(text);
  const std::string route = "GET /api/v1/batches/{id}";
  EXPECT_EQ(e.Value("batchd_http_requests_total", {{"route", route}, {"code", "200"}}), 2);
  EXPECT_EQ(e.Value("batchd_http_requests_total", {{"route", route}, {"code", "404"}}), 1);
  EXPECT_EQ(e.Value("batchd_http_requests_total", {{"route", "unmatched"}, {"code", "404"}}), 1);
  EXPECT_EQ(e.Value("batchd_http_requests_total", {{"route", "unmatched"}, {"code", "405"}}), 1);
  EXPECT_EQ(e.Value("batchd_http_request_duration_seconds_count", {{"route", route}}), 3);
  EXPECT_EQ(e.Value("batchd_http_requests_in_flight"), 0);
  EXPECT_EQ(text.find("aaaa"), std::string::npos) << "a raw path leaked into a label";
}

TEST(MetricsTextTest, ARequestNotYetAnsweredIsInFlight) {
  Router router;
  Responder held;
  router.Add("GET", "/slow", [&](HttpRequest&, Responder respond) { held = std::move(respond); });
  HttpRequest request{.method = "GET", .path = "/slow"};
  router.Dispatch(request, [](HttpResponse) {});
  MetricsSnapshot s = SampleSnapshot();
  s.http = &router.metrics();
  EXPECT_EQ(Parse(MetricsText(s)).Value("batchd_http_requests_in_flight"), 1);
  held(HttpResponse{});
  EXPECT_EQ(Parse(MetricsText(s)).Value("batchd_http_requests_in_flight"), 0);
}

// The strict reader must refuse what a Prometheus server refuses, or the tests above prove
// nothing.
TEST(PromExpositionReaderTest, RefusesBrokenExpositions) {
  const char* bad[] = {
      "m 1",                                                       // no final newline
      "m 1\n",                                                     // no HELP/TYPE
      "# HELP m h\n# TYPE m gauge\nm{a=\"1\"} x\n",                // not a number
      "# HELP m h\n# TYPE m gauge\nm{a=1} 1\n",                    // unquoted label value
      "# HELP m h\n# TYPE m gauge\nm{a=\"\\t\"} 1\n",              // bad escape
      "# HELP m h\n# TYPE m gauge\nm 1\nm 2\n",                    // duplicate series
      "# HELP m h\n# TYPE m gauge\nn 1\n",                         // sample of another family
      "# HELP m h\n# TYPE m gauge\n# HELP m h\n# TYPE m gauge\n",  // family twice
      "# HELP m h\n# TYPE m counter\nm 1\n",                       // counter not *_total
      "# HELP m_total h\n# TYPE m_total counter\nm_total -1\n",    // negative counter
      "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
      "h_sum 1\nh_count 1\n",  // not cumulative
      "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",     // no +Inf
      "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  // count
      "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",           // no _sum
      "# HELP m h\n# TYPE m gauge\n\nm 1\n",  // empty line
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParsePromExposition(text).ok()) << "accepted:\n" << text;
  }
  Result<PromExposition> good = ParsePromExposition(
      "# HELP m a help\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\n\"} +Inf\n# a comment\n");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE(std::isinf(*good->Value("m", {{"a", "x\"y\\z\n"}})));
}

}  // namespace
}  // namespace batchd::api
