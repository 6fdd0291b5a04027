// Issue 14, acceptance 3: three nodes on one PostgreSQL database drain a 30,000-session batch of
// chunked `sleep` and a 50-session `stats` batch over a zarr-python array while one node at a
// time is killed with SIGKILL at five random moments (and started again under its name). At the
// end every session completed exactly once (counted in the event log), the counters equal the
// rows, no completion came from a claim that had been lost, max_running was never exceeded (sampled
// over REST and in the rows), and the stats equal a single SQLite node's.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "storage/pg/pg_connection.h"
#include "tests/integration/scaleout/scaleout_cluster.h"
#include "tests/pg/pg_test_db.h"
#include "tests/support/api_calls.h"
#include "tests/support/sanitizer_build.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

// The plain build (CI's release stage) runs the issue's 30,000; a sanitizer build, where every
// node runs many times slower, checks the same properties on a tenth of it.
constexpr int64_t kSleepSessions = kMemoryIsSanitized ? 3'000 : 30'000;
constexpr int64_t kMaxRunning = 8;
constexpr int kKills = 5;
constexpr int kStatsRows = 50;  // the array's chunk grid is kStatsRows x 50: one row a session
// Hang guards only: the test fails on a drain that stands still for this long, not on speed.
constexpr auto kDrainTimeout = std::chrono::minutes(20);
constexpr auto kStatsTimeout = std::chrono::minutes(5);

nlohmann::json StatsBatch(const std::string& url) {
  nlohmann::json regions = nlohmann::json::array();
  for (int r = 0; r < kStatsRows; ++r) regions.push_back({{r, r + 1}, {0, 50}});
  return {{"name", "stats rows"},
          {"max_attempts", 10},
          {"max_running", 2},  // spread over time, so the first kill can fall inside it
          {"template", {{"op", "stats"}, {"source", {{"url", url}}}, {"region", nullptr}}},
          {"data", {{{{"field", "/region"}, {"items", regions}}}}}};
}

// Each stats session's result by its region, and the batch's folded result.
struct StatsOutcome {
  std::map<std::string, nlohmann::json> by_region;
  nlohmann::json batch_result;
};

Result<StatsOutcome> ReadStatsOutcome(HttpClient& client, const std::string& batch_id) {
  StatsOutcome out;
  ASSIGN_OR_RETURN(nlohmann::json batch, GetJson(client, "/api/v1/batches/" + batch_id));
  out.batch_result = batch["result"];
  ASSIGN_OR_RETURN(std::vector<int64_t> ids, SessionIdsOf(client, batch_id));
  for (int64_t id : ids) {
    ASSIGN_OR_RETURN(nlohmann::json s, GetJson(client, "/api/v1/sessions/" + std::to_string(id)));
    if (s["state"] != "completed") return Status::Internal("not completed: " + s.dump());
    out.by_region[s["values"]["/region"].dump()] = s["result"];
  }
  return out;
}

// Polls the sleep batch on whichever node answers, every ~50 ms, over REST (the counter) and
// in the database (the rows in state 1), and records the largest in_progress each saw.
class InProgressSampler {
 public:
  InProgressSampler(std::string store_uri, std::string batch_id)
      : store_uri_(std::move(store_uri)), batch_id_(std::move(batch_id)) {}
  ~InProgressSampler() { Stop(); }

  void SetPorts(std::vector<uint16_t> ports) {
    std::lock_guard<std::mutex> lock(mu_);
    ports_ = std::move(ports);
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  int64_t rest_samples() const { return rest_samples_; }
  int64_t row_samples() const { return row_samples_; }
  int64_t max_counter() const { return max_counter_; }
  int64_t max_rows() const { return max_rows_; }
  std::string first_violation() const {
    std::lock_guard<std::mutex> lock(mu_);
    return first_violation_;
  }

 private:
  void Run() {
    std::unique_ptr<storage::pg::PgConnection> conn;  // one for the whole run
    while (!stop_) {
      std::vector<uint16_t> ports;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ports = ports_;
      }
      for (uint16_t port : ports) {  // the first that answers: others may be being killed
        HttpClient client(port, std::chrono::seconds(5));
        Result<HttpResponse> r = client.Get("/api/v1/batches/" + batch_id_);
        if (!r.ok() || r->status != 200) continue;
        nlohmann::json b = r->Json();
        if (b.is_discarded()) continue;
        const int64_t n = b["counts"]["in_progress"].get<int64_t>();
        ++rest_samples_;
        max_counter_ = std::max<int64_t>(max_counter_, n);
        if (n > kMaxRunning) Violation("REST in_progress " + std::to_string(n) + ": " + b.dump());
        break;
      }
      if (conn == nullptr || conn->IsBroken()) {
        Result<std::unique_ptr<storage::pg::PgConnection>> opened =
            storage::pg::PgConnection::Open(store_uri_);
        conn = opened.ok() ? std::move(opened).value() : nullptr;
      }
      if (Result<int64_t> rows = conn == nullptr
                                     ? Result<int64_t>(Status::Unavailable("no connection"))
                                     : InProgressRows(*conn, batch_id_);
          rows.ok()) {
        ++row_samples_;
        max_rows_ = std::max<int64_t>(max_rows_, *rows);
        if (*rows > kMaxRunning) Violation(std::to_string(*rows) + " session rows in state 1");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  void Violation(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_violation_.empty()) first_violation_ = what;
  }

  const std::string store_uri_;
  const std::string batch_id_;
  mutable std::mutex mu_;
  std::vector<uint16_t> ports_;
  std::string first_violation_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> rest_samples_{0}, row_samples_{0}, max_counter_{0}, max_rows_{0};
  std::thread thread_;
};

class ThreeNodesKillTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    for (auto& node : nodes_) {
      std::cerr << "--- log of " << node->name() << " ---\n" << node->LogTail(6000) << "\n";
    }
  }

  HttpClient& AnyLiveClient() {
    for (auto& node : nodes_) {
      if (node->running()) return node->client();
    }
    ADD_FAILURE() << "no node is running";
    return nodes_.front()->client();
  }

  std::vector<uint16_t> LivePorts() {
    std::vector<uint16_t> ports;
    for (auto& node : nodes_) {
      if (node->running()) ports.push_back(node->daemon().port());
    }
    return ports;
  }

  TempDir arrays_;
  std::vector<std::unique_ptr<ClusterNode>> nodes_;
};

TEST_F(ThreeNodesKillTest, EverySessionCompletesOnceThroughFiveKillsAndStatsEqualOneNode) {
  const uint64_t seed = TestSeed();
  std::cout << "seed " << seed << " (BATCHD_TEST_SEED=" << seed << " replays the kill choices)"
            << std::endl;
  std::mt19937_64 rng(seed);

  // The array: 500 x 400 float64 in 10 x 8 chunks, a 50 x 50 chunk grid, zstd.
  const std::filesystem::path array = arrays_.path() / "rows";
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles,
                       MakeArrays({{array,
                                    {"--shape", "500,400", "--chunks", "10,8", "--dtype", "<f8",
                                     "--compressor", "zstd", "--seed", "14"}}}));
  const nlohmann::json stats_batch = StatsBatch(FileUrl(array));

  // The reference: the same stats batch on one SQLite node.
  StatsOutcome reference;
  {
    TempDir dir;
    DaemonOptions options;
    options.binary = BATCHD_BINARY;
    options.data_dir = dir.path();
    options.extra_args = {"--file-root", arrays_.path().string()};
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<DaemonProcess> single,
                         DaemonProcess::Start(std::move(options)));
    ASSERT_TRUE(single->store().empty()) << "the reference must run on SQLite";
    HttpClient client(single->port());
    ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client, stats_batch));
    ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                         WaitForBatchState(client, id, "completed", kStatsTimeout));
    ASSERT_OK_AND_ASSIGN(reference, ReadStatsOutcome(client, id));
    ASSERT_EQ(reference.by_region.size(), static_cast<size_t>(kStatsRows));
    // The reference itself is right: numpy's figures for the whole array.
    EXPECT_EQ(StatsMismatch(reference.batch_result, oracles[0]), "") << done.dump();
    ASSERT_OK_AND_ASSIGN(ExitStatus exit, single->Stop());
    EXPECT_TRUE(exit.CleanExit()) << exit.ToString();
  }

  const std::string uri = FreshPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  ClusterOptions cluster;
  cluster.binary = BATCHD_BINARY;
  cluster.store = uri;
  cluster.extra_args = {"--slots", "4", "--node-timeout-ms", "2000", "--node-heartbeat-ms", "200",
                        // Every transition an event, none suppressed: the log is the count.
                        "--event-small-batch", "100000", "--event-session-rate", "100000000",
                        "--file-root", arrays_.path().string()};
  for (const char* name : {"n1", "n2", "n3"}) {
    nodes_.push_back(std::make_unique<ClusterNode>(cluster, name));
    ASSERT_OK(nodes_.back()->Start());
  }

  // A few ms per session, in three chunks.
  nlohmann::json sleep_batch = SleepBatch("drain", kSleepSessions, 3);
  sleep_batch["template"]["chunks"] = 3;
  sleep_batch["max_running"] = kMaxRunning;
  sleep_batch["max_attempts"] = 10;  // a session may be claimed again after each kill
  ASSERT_OK_AND_ASSIGN(std::string sleep_id, SubmitBatch(nodes_[0]->client(), sleep_batch));
  ASSERT_OK_AND_ASSIGN(std::string stats_id, SubmitBatch(nodes_[1]->client(), stats_batch));

  InProgressSampler sampler(uri, sleep_id);
  sampler.SetPorts(LivePorts());
  sampler.Start();

  // Five kills at random points of the drain (by sessions completed, so they fall inside it
  // however fast the machine is), each followed by a restart after a random pause: shorter or
  // longer than --node-timeout-ms, so both the restart's own rescue and a survivor's happen.
  std::vector<int64_t> kill_at;
  std::uniform_int_distribution<int64_t> at(kSleepSessions / 20, kSleepSessions * 9 / 10);
  for (int i = 0; i < kKills; ++i) kill_at.push_back(at(rng));
  std::sort(kill_at.begin(), kill_at.end());
  std::uniform_int_distribution<int> which(0, 2);
  std::uniform_int_distribution<int> jitter_ms(0, 300);
  std::uniform_int_distribution<int> down_ms(0, 4000);
  // The first kill falls inside the stats batch (after a random number of its sessions, on a
  // node running one of them, if it is still running then); the others inside the drain.
  std::uniform_int_distribution<int64_t> stats_at(1, kStatsRows / 2);
  const int64_t first_kill_stats = stats_at(rng);
  for (int k = 0; k < kKills; ++k) {
    Result<nlohmann::json> reached =
        k == 0 ? PollBatch(
                     AnyLiveClient(), stats_id,
                     [&](const nlohmann::json& batch) {
                       return batch["counts"]["completed"].get<int64_t>() >= first_kill_stats ||
                              batch["state"] == "completed";
                     },
                     kStatsTimeout, "the stats batch to reach the first kill",
                     std::chrono::milliseconds(10))
               : PollBatch(
                     AnyLiveClient(), sleep_id,
                     [&](const nlohmann::json& batch) {
                       return batch["counts"]["completed"].get<int64_t>() >= kill_at[k] ||
                              batch["state"] == "completed";
                     },
                     kDrainTimeout, "the drain to reach the next kill");
    ASSERT_TRUE(reached.ok()) << reached.status().ToString();
    const nlohmann::json& b = *reached;
    ClusterNode* victim = nodes_[which(rng)].get();
    if (k == 0) {
      ASSERT_OK_AND_ASSIGN(std::optional<std::string> runner, NodeRunningBatch(uri, stats_id));
      for (auto& node : nodes_) {
        if (runner && node->name() == *runner) victim = node.get();
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms(rng)));
    }
    const int down = down_ms(rng);
    std::cout << "kill " << (k + 1) << ": SIGKILL " << victim->name() << " at "
              << b["counts"]["completed"] << " completed of " << b["name"] << ", down " << down
              << " ms" << std::endl;
    victim->Kill();
    sampler.SetPorts(LivePorts());
    std::this_thread::sleep_for(std::chrono::milliseconds(down));
    Status restarted = victim->Start();
    ASSERT_TRUE(restarted.ok()) << restarted.ToString() << "\n" << victim->LogTail();
    sampler.SetPorts(LivePorts());
  }

  auto completed = [](const nlohmann::json& b) {  // or failed, canceled: no use waiting on
    return b["state"] == "completed" || b["state"] == "failed" || b["state"] == "canceled";
  };
  ASSERT_OK_AND_ASSIGN(nlohmann::json sleep_done,
                       PollBatch(AnyLiveClient(), sleep_id, completed, kDrainTimeout,
                                 "the drain to complete", std::chrono::milliseconds(500)));
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats_done,
                       PollBatch(AnyLiveClient(), stats_id, completed, kStatsTimeout,
                                 "the stats batch to complete"));
  ASSERT_EQ(sleep_done["state"], "completed") << sleep_done.dump();
  ASSERT_EQ(stats_done["state"], "completed") << stats_done.dump();
  sampler.Stop();

  // max_running, sampled throughout (and the samples were real).
  std::cout << "sampled in_progress: " << sampler.rest_samples() << " REST samples (max "
            << sampler.max_counter() << "), " << sampler.row_samples() << " row samples (max "
            << sampler.max_rows() << ")" << std::endl;
  EXPECT_EQ(sampler.first_violation(), "");
  EXPECT_GT(sampler.rest_samples(), 0);
  EXPECT_GT(sampler.row_samples(), 0);
  EXPECT_GT(sampler.max_rows(), 0) << "the sampler never saw the batch running";

  // Exactly once, by the event log.
  HttpClient& client = AnyLiveClient();
  EXPECT_EQ(sleep_done["counts"]["completed"], kSleepSessions) << sleep_done.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sleep_sessions, SessionIdsOf(client, sleep_id));
  ASSERT_EQ(sleep_sessions.size(), static_cast<size_t>(kSleepSessions));
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> sleep_events,
                       ReadEventLog(client, "batch=" + sleep_id + "&types=session.state"));
  EXPECT_EQ(ExactlyOnceProblems(SessionHistories(sleep_events), sleep_sessions), "");
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> stats_sessions, SessionIdsOf(client, stats_id));
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> stats_events,
                       ReadEventLog(client, "batch=" + stats_id + "&types=session.state"));
  EXPECT_EQ(ExactlyOnceProblems(SessionHistories(stats_events), stats_sessions), "");
  // Nothing was summed up instead of written.
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> progress,
                       ReadEventLog(client, "batch=" + sleep_id + "&types=batch.progress"));
  for (const nlohmann::json& p : progress) {
    const nlohmann::json& suppressed = p["session_events_suppressed"];
    ASSERT_TRUE(suppressed.is_null() || suppressed == 0) << p.dump();
  }

  // Counters equal rows; nothing left in progress.
  for (const std::string& id : {sleep_id, stats_id}) {
    ASSERT_OK_AND_ASSIGN(std::string mismatch, CounterMismatch(uri, id));
    EXPECT_EQ(mismatch, "") << "batch " << id;
    ASSERT_OK_AND_ASSIGN(int64_t orphans, OrphanedInProgress(uri, id));
    EXPECT_EQ(orphans, 0);
  }

  // Every killed incarnation is dead and was rescued; the three last ones are alive.
  ASSERT_OK_AND_ASSIGN(std::vector<NodeRow> rows, ReadNodeRows(uri));
  EXPECT_EQ(rows.size(), static_cast<size_t>(3 + kKills));
  int alive = 0;
  for (const NodeRow& row : rows) {
    if (row.state == "alive") {
      ++alive;
      continue;
    }
    EXPECT_EQ(row.state, "dead") << row.name << " #" << row.id;
    EXPECT_TRUE(row.rescued_by.has_value()) << row.name << " #" << row.id << " was not rescued";
  }
  EXPECT_EQ(alive, 3);

  // The stats equal the single node's, session by session and folded.
  ASSERT_OK_AND_ASSIGN(StatsOutcome scaled, ReadStatsOutcome(client, stats_id));
  EXPECT_EQ(scaled.by_region, reference.by_region);
  EXPECT_EQ(scaled.batch_result, reference.batch_result) << stats_done.dump();

  for (auto& node : nodes_) {
    Status stopped = node->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped.ToString() << "\n" << node->LogTail();
  }
}

}  // namespace
}  // namespace batchd::testing
