// Rescue (issue 14, docs/scale-out.md): a node whose heartbeat is older than --node-timeout-ms is
// dead; a survivor requeues its sessions in progress, once, and they complete on the survivor.
// And a node that was only frozen (SIGSTOP past the timeout, as in a network partition) and
// comes back must not finish the sessions it lost: each still completes exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>

#include "tests/integration/scaleout/scaleout_cluster.h"
#include "tests/pg/pg_test_db.h"
#include "tests/support/api_calls.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

constexpr auto kTimeout = std::chrono::seconds(120);

class NodeRescueTest : public ::testing::Test {
 protected:
  void MakeNodes() {
    uri_ = FreshPgDatabaseUri();
    ASSERT_FALSE(uri_.empty());
    ClusterOptions cluster;
    cluster.binary = BATCHD_BINARY;
    cluster.store = uri_;
    cluster.extra_args = {"--slots",
                          "4",
                          "--node-timeout-ms",
                          "2000",
                          "--node-heartbeat-ms",
                          "200",
                          "--event-small-batch",
                          "100000"};
    a_ = std::make_unique<ClusterNode>(cluster, "a");
    b_ = std::make_unique<ClusterNode>(cluster, "b");
  }

  void TearDown() override {
    // A frozen daemon would ignore the destructor's SIGTERM until its stop timeout.
    if (a_ != nullptr && a_->running()) ::kill(a_->daemon().pid(), SIGCONT);
    if (!HasFailure()) return;
    for (ClusterNode* node : {a_.get(), b_.get()}) {
      if (node != nullptr)
        std::cerr << "--- log of " << node->name() << " ---\n" << node->LogTail(6000) << "\n";
    }
  }

  // The node rows GET /api/v1/nodes lists under `name` that are not alive, once there is one
  // with rescued_by set.
  Result<nlohmann::json> WaitForRescueOf(HttpClient& client, const std::string& name) {
    ASSIGN_OR_RETURN(nlohmann::json items,
                     WaitForNodes(
                         client,
                         [&](const nlohmann::json& items) {
                           for (const auto& n : items) {
                             if (n["name"] == name && !n["rescued_by"].is_null()) return true;
                           }
                           return false;
                         },
                         kTimeout, name + " to be rescued"));
    for (const auto& n : items) {
      if (n["name"] == name && !n["rescued_by"].is_null()) return n;
    }
    return Status::Internal("unreachable");
  }

  // b's id in the node list (its alive row).
  Result<int64_t> AliveNodeId(HttpClient& client, const std::string& name) {
    ASSIGN_OR_RETURN(nlohmann::json body, GetJson(client, "/api/v1/nodes"));
    for (const auto& n : body["items"]) {
      if (n["name"] == name && n["state"] == "alive") return n["id"].get<int64_t>();
    }
    return Status::NotFound("no alive node " + name + " in " + body.dump());
  }

  std::string uri_;
  std::unique_ptr<ClusterNode> a_, b_;
};

TEST_F(NodeRescueTest, ASurvivorRescuesTheSessionsOfAKilledNodeAndTheyComplete) {
  ASSERT_NO_FATAL_FAILURE(MakeNodes());
  // a alone claims all four (its slots); b starts with nothing left to claim.
  ASSERT_OK(a_->Start());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(a_->client(), SleepBatch("rescued", 4, 15'000)));
  ASSERT_OK_AND_ASSIGN(
      nlohmann::json four,
      WaitForBatch(
          a_->client(), id, [](const nlohmann::json& b) { return b["counts"]["in_progress"] == 4; },
          kTimeout, "a to run four sessions"));
  (void)four;
  ASSERT_OK(b_->Start());
  ASSERT_OK_AND_ASSIGN(const int64_t b_before, InProgressOnNode(uri_, "b"));
  EXPECT_EQ(b_before, 0);

  a_->Kill();
  // What a held when it died: nothing changes them until the rescue, --node-timeout-ms later.
  ASSERT_OK_AND_ASSIGN(const int64_t held, InProgressOnNode(uri_, "a"));
  ASSERT_GT(held, 0) << "a finished its sessions before the kill; nothing to rescue";

  ASSERT_OK_AND_ASSIGN(const int64_t b_id, AliveNodeId(b_->client(), "b"));
  ASSERT_OK_AND_ASSIGN(nlohmann::json dead, WaitForRescueOf(b_->client(), "a"));
  EXPECT_EQ(dead["state"], "dead") << dead.dump();
  EXPECT_EQ(dead["rescued_by"], b_id) << dead.dump();
  EXPECT_EQ(dead["rescued"], held) << dead.dump();
  EXPECT_FALSE(dead["ended_at"].is_null()) << dead.dump();

  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(b_->client(), id, "completed", kTimeout));
  EXPECT_EQ(done["counts"]["completed"], 4) << done.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(b_->client(), id));
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> events,
                       ReadEventLog(b_->client(), "batch=" + id + "&types=session.state"));
  std::map<int64_t, SessionHistory> histories = SessionHistories(events);
  EXPECT_EQ(ExactlyOnceProblems(histories, sessions), "");
  // The rescued ones ran twice (attempt kept by the rescue, counted again by b's claim).
  int64_t second_attempts = 0;
  for (const auto& [sid, h] : histories) {
    if (h.events.back().value("attempt", 0) == 2) ++second_attempts;
  }
  EXPECT_EQ(second_attempts, held);
  ASSERT_OK_AND_ASSIGN(std::string mismatch, CounterMismatch(uri_, id));
  EXPECT_EQ(mismatch, "");

  // The rescue happened once: the dead row still says so after more heartbeats of b.
  ASSERT_OK_AND_ASSIGN(std::vector<NodeRow> rows, ReadNodeRows(uri_));
  ASSERT_EQ(rows.size(), 2u);
  for (const NodeRow& row : rows) {
    if (row.name == "a") {
      EXPECT_EQ(row.state, "dead");
      EXPECT_EQ(row.rescued_by, b_id);
      EXPECT_EQ(row.rescued, held);
    } else {
      EXPECT_EQ(row.state, "alive");
      EXPECT_FALSE(row.rescued_by.has_value());
    }
  }
  ASSERT_OK(b_->Stop());
}

TEST_F(NodeRescueTest, AFrozenNodeDeclaredDeadFinishesNoneOfTheSessionsItLost) {
  ASSERT_NO_FATAL_FAILURE(MakeNodes());
  // Four 10-second sessions, all on a (b is not up yet): still running when a is frozen.
  ASSERT_OK(a_->Start());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(a_->client(), SleepBatch("lost", 4, 10'000)));
  ASSERT_OK_AND_ASSIGN(
      nlohmann::json four,
      WaitForBatch(
          a_->client(), id, [](const nlohmann::json& b) { return b["counts"]["in_progress"] == 4; },
          kTimeout, "a to run all four"));
  (void)four;
  ASSERT_OK(b_->Start());
  ASSERT_OK_AND_ASSIGN(const int64_t b_id, AliveNodeId(b_->client(), "b"));

  // Freeze a past --node-timeout-ms: b declares it dead and takes its sessions over.
  ASSERT_EQ(::kill(a_->daemon().pid(), SIGSTOP), 0);
  ASSERT_OK_AND_ASSIGN(nlohmann::json dead, WaitForRescueOf(b_->client(), "a"));
  EXPECT_EQ(dead["rescued_by"], b_id) << dead.dump();
  EXPECT_EQ(dead["rescued"], 4) << dead.dump();
  ASSERT_OK_AND_ASSIGN(nlohmann::json on_b, WaitForBatch(
                                                b_->client(), id,
                                                [](const nlohmann::json& b) {
                                                  return b["counts"]["in_progress"] == 4 ||
                                                         b["state"] == "completed";
                                                },
                                                kTimeout, "b to run the four again"));
  (void)on_b;
  ASSERT_OK_AND_ASSIGN(const int64_t on_b_rows, InProgressOnNode(uri_, "b"));
  std::cout << "sessions in progress on b when a wakes: " << on_b_rows << std::endl;

  // Wake a: its sleeps end before b's (they started earlier), so a would finish all four while
  // b runs them, unless its writes are refused and it stops the work it lost.
  ASSERT_EQ(::kill(a_->daemon().pid(), SIGCONT), 0);

  ASSERT_OK_AND_ASSIGN(nlohmann::json done,
                       WaitForBatchState(b_->client(), id, "completed", kTimeout));
  EXPECT_EQ(done["counts"]["completed"], 4) << done.dump();
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(b_->client(), id));
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> events,
                       ReadEventLog(b_->client(), "batch=" + id + "&types=session.state"));
  std::map<int64_t, SessionHistory> histories = SessionHistories(events);
  // Exactly once, and by b's claim (attempt 2), not a's (attempt 1).
  EXPECT_EQ(ExactlyOnceProblems(histories, sessions), "");
  for (int64_t sid : sessions) {
    const SessionHistory& h = histories[sid];
    ASSERT_FALSE(h.events.empty()) << "session " << sid;
    EXPECT_EQ(h.events.back().value("attempt", 0), 2) << h.events.back().dump();
  }
  ASSERT_OK_AND_ASSIGN(std::string mismatch, CounterMismatch(uri_, id));
  EXPECT_EQ(mismatch, "");
  // Still dead, rescued once, whatever a did after waking.
  ASSERT_OK_AND_ASSIGN(std::vector<NodeRow> rows, ReadNodeRows(uri_));
  int rescued_rows = 0;
  for (const NodeRow& row : rows) {
    if (row.rescued_by.has_value()) ++rescued_rows;
    if (row.name == "a" && row.rescued_by.has_value()) {
      EXPECT_EQ(row.rescued, 4);
    }
  }
  EXPECT_EQ(rescued_rows, 1);
  ASSERT_OK(b_->Stop());
}

}  // namespace
}  // namespace batchd::testing
