// PgNodeKeeper and the rescue against a real server: exactly once under races, a restarted
// node rescuing its predecessor at once, a node that finds itself dead stopping what it lost,
// the stop requeuing leftovers, QueryNodes. Times come from a ManualClock; waits poll.
#include "storage/pg/pg_nodes.h"

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "core/mutex.h"
#include "storage/pg/pg_lifecycle.h"
#include "storage/pg/pg_rescue.h"
#include "tests/pg/pg_event_hub_harness.h"
#include "tests/pg/pg_sched_fixture.h"
#include "tests/support/manual_clock.h"

namespace batchd::storage::pg {
namespace {

using namespace std::chrono_literals;
using testing::Claim;
using testing::Completed;
using testing::Finish;

class PgNodesTest : public testing::PgSchedFixture {
 protected:
  std::unique_ptr<PgNodeKeeper> StartKeeper(const std::string& name,
                                            std::chrono::milliseconds interval = 20ms,
                                            std::function<void(const RemoteStop&)> stop = {}) {
    auto k =
        PgNodeKeeper::Start({.uri = uri_,
                             .identity = {.name = name, .host = "h", .listen = name, .slots = 4},
                             .heartbeat_interval = interval,
                             .node_timeout = 10s,
                             .on_remote_stop = std::move(stop),
                             .clock = clock_.AsWallClock()});
    EXPECT_TRUE(k.ok()) << k.status().message();
    return k.ok() ? std::move(*k) : nullptr;
  }
  // Polls until `sql` answers `want` (kPgPollGuard guards a hang).
  void WaitFor(const std::string& sql, const std::string& want) {
    batchd::testing::PollUntil([&] { return QueryText(sql) == want; });
  }
  std::string NodeState(int64_t id) {
    return QueryText("SELECT state FROM node WHERE id = " + std::to_string(id));
  }

  batchd::testing::ManualClock clock_;
};

TEST_F(PgNodesTest, TwoRescuersRacingRescueOnce) {
  const int64_t victim = InsertNode("victim", clock_.Now());
  const int64_t a = InsertNode("a", clock_.Now());
  const int64_t b = InsertNode("b", clock_.Now());
  const int64_t batch = InsertBatch(20, 0, std::nullopt);
  auto sched = StartScheduling(victim);
  auto claimed = Claim(*sched, 12, clock_.Now());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 12u);
  {
    std::vector<Result<PgRescue>> results(2, Status::Internal("not run"));
    std::thread ta([&] {
      auto c = Connect();
      PgSessionEvents events({});
      results[0] = RescueNode(*c, victim, a, "dead", clock_.Now(), events);
    });
    std::thread tb([&] {
      auto c = Connect();
      PgSessionEvents events({});
      results[1] = RescueNode(*c, victim, b, "dead", clock_.Now(), events);
    });
    ta.join();
    tb.join();
    ASSERT_TRUE(results[0].ok()) << results[0].status().message();
    ASSERT_TRUE(results[1].ok()) << results[1].status().message();
    EXPECT_NE(results[0]->marked, results[1]->marked);
    const PgRescue& winner = results[0]->marked ? *results[0] : *results[1];
    EXPECT_EQ(winner.sessions.size(), 12u);
    EXPECT_TRUE((results[0]->marked ? *results[1] : *results[0]).sessions.empty());
  }
  EXPECT_EQ(NodeState(victim), "dead");
  EXPECT_EQ(QueryInt("SELECT rescued FROM node WHERE id = " + std::to_string(victim)), 12);
  const int64_t by = QueryInt("SELECT rescued_by FROM node WHERE id = " + std::to_string(victim));
  EXPECT_TRUE(by == a || by == b);
  EXPECT_EQ(QueryInt("SELECT n_uninitialized FROM batch WHERE id = " + std::to_string(batch)), 20);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE not_before IS NOT NULL AND "
                     "attempts = 1 AND node_id IS NULL"),
            12);
  // (Its session.state events go through AppendEvents, pg_events.h: checked with the hub.)
  ExpectCountersEqualRows();
}

TEST_F(PgNodesTest, TwoKeepersRescueATimedOutNodeOnceWhenTheClockPassesTheTimeout) {
  const int64_t victim = InsertNode("victim", clock_.Now());
  InsertBatch(5);
  auto sched = StartScheduling(victim);
  auto claimed = Claim(*sched, 5, clock_.Now());
  ASSERT_TRUE(claimed.ok());
  auto k1 = StartKeeper("k1");
  auto k2 = StartKeeper("k2");
  ASSERT_NE(k1, nullptr);
  ASSERT_NE(k2, nullptr);
  // Both keepers have beaten at least twice at this time (so a rescue check ran after a beat
  // at it): the victim, 9 s behind, is not yet dead.
  clock_.Advance(9s);
  const std::string now = std::to_string(clock_.Now());
  WaitFor("SELECT count(*) FROM node WHERE heartbeat_at = " + now + " AND name LIKE 'k%'", "2");
  clock_.Advance(1ms);
  const std::string later = std::to_string(clock_.Now());
  WaitFor("SELECT count(*) FROM node WHERE heartbeat_at = " + later + " AND name LIKE 'k%'", "2");
  EXPECT_EQ(NodeState(victim), "alive");
  clock_.Advance(2s);
  WaitFor("SELECT state FROM node WHERE id = " + std::to_string(victim), "dead");
  const int64_t by = QueryInt("SELECT rescued_by FROM node WHERE id = " + std::to_string(victim));
  EXPECT_TRUE(by == k1->node_id() || by == k2->node_id());
  EXPECT_EQ(QueryInt("SELECT rescued FROM node WHERE id = " + std::to_string(victim)), 5);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 0"), 5);
  EXPECT_EQ(NodeState(k1->node_id()), "alive");
  EXPECT_EQ(NodeState(k2->node_id()), "alive");
  ExpectCountersEqualRows();
  k1->Stop();
  k2->Stop();
  EXPECT_EQ(NodeState(k1->node_id()), "stopped");
}

TEST_F(PgNodesTest, ARestartedNodeRescuesItsPredecessorAtOnce) {
  // The predecessor: an alive row named n1 with sessions in progress, its heartbeat fresh
  // (killed a moment ago).
  const int64_t before = InsertNode("n1", clock_.Now());
  InsertBatch(4);
  auto sched = StartScheduling(before);
  ASSERT_TRUE(Claim(*sched, 3, clock_.Now()).ok());
  sched->Stop();
  auto keeper = StartKeeper("n1", 1h);  // no beat needed: Start does it
  ASSERT_NE(keeper, nullptr);
  EXPECT_NE(keeper->node_id(), before);
  EXPECT_EQ(NodeState(before), "dead");
  EXPECT_EQ(QueryInt("SELECT rescued_by FROM node WHERE id = " + std::to_string(before)),
            keeper->node_id());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 1"), 0);
  // Its sessions are claimable again, attempt 2, on the new node.
  auto again = StartScheduling(keeper->node_id());
  auto claimed = Claim(*again, 4, clock_.Now());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 4u);
  int second_attempts = 0;
  for (const auto& c : claimed->sessions) second_attempts += c.attempts == 2;
  EXPECT_EQ(second_attempts, 3);
  ExpectCountersEqualRows();
}

TEST_F(PgNodesTest, ANodeFoundDeadStopsTheSessionsItLostAndRegistersAgain) {
  Mutex mu;
  std::set<int64_t> stopped;
  auto keeper = StartKeeper("n1", 20ms, [&](const RemoteStop& s) {
    MutexLock lock(mu);
    ASSERT_TRUE(s.session_id.has_value());
    stopped.insert(*s.session_id);
  });
  ASSERT_NE(keeper, nullptr);
  PgNodeKeeper* k = keeper.get();
  auto sched = PgScheduling::Start(
      {.uri = uri_, .node_id = [k] { return k->node_id(); }, .sessions = &keeper->sessions()});
  ASSERT_TRUE(sched.ok());
  InsertBatch(6);
  const int64_t old_id = keeper->node_id();
  auto claimed = Claim(**sched, 3, clock_.Now());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->sessions.size(), 3u);
  // One finishes before the partition: nothing to stop for it.
  auto applied = Finish(**sched, Completed(claimed->sessions[0], clock_.Now()));
  ASSERT_TRUE(applied.ok() && *applied);
  // Another node declares it dead.
  const int64_t other = InsertNode("other", clock_.Now());
  PgSessionEvents events({});
  auto rescue = RescueNode(*conn_, old_id, other, "dead", clock_.Now(), events);
  ASSERT_TRUE(rescue.ok());
  EXPECT_EQ(rescue->sessions.size(), 2u);
  batchd::testing::PollUntil([&] { return keeper->node_id() != old_id; });
  EXPECT_EQ(NodeState(keeper->node_id()), "alive");
  {
    MutexLock lock(mu);
    EXPECT_EQ(stopped, (std::set<int64_t>{claimed->sessions[1].id, claimed->sessions[2].id}));
  }
  // Their late outcomes are not applied; claims go on under the new id.
  applied = Finish(**sched, Completed(claimed->sessions[1], clock_.Now()));
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  auto more = Claim(**sched, 10, clock_.Now());
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->sessions.size(), 5u);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 1 AND node_id = " +
                     std::to_string(keeper->node_id())),
            5);
  ExpectCountersEqualRows();
  (*sched)->Stop();
  keeper->Stop();
}

TEST_F(PgNodesTest, StopMarksTheRowStoppedAndRequeuesWhatItStillHad) {
  auto keeper = StartKeeper("n1", 1h);
  ASSERT_NE(keeper, nullptr);
  InsertBatch(3);
  auto sched = StartScheduling(keeper->node_id());
  ASSERT_TRUE(Claim(*sched, 2, clock_.Now()).ok());
  sched->Stop();
  keeper->Stop();
  keeper->Stop();  // idempotent
  EXPECT_EQ(NodeState(keeper->node_id()), "stopped");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 1"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 0 AND not_before IS NOT NULL"), 2);
  ExpectCountersEqualRows();
}

TEST_F(PgNodesTest, QueryNodesListsEveryRowNewestFirstWithRunningSessions) {
  auto k1 = StartKeeper("n1", 1h);
  auto k2 = StartKeeper("n2", 1h);
  InsertBatch(5);
  auto sched = StartScheduling(k2->node_id());
  ASSERT_TRUE(Claim(*sched, 3, clock_.Now()).ok());
  k1->Stop();
  auto nodes = QueryNodes(*conn_);
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].id, k2->node_id());
  EXPECT_EQ((*nodes)[0].identity.name, "n2");
  EXPECT_EQ((*nodes)[0].identity.slots, 4);
  EXPECT_EQ((*nodes)[0].state, "alive");
  EXPECT_EQ((*nodes)[0].running, 3);
  EXPECT_EQ((*nodes)[1].state, "stopped");
  EXPECT_EQ((*nodes)[1].running, 0);
  EXPECT_TRUE((*nodes)[1].ended_at_ms.has_value());
}

// A cancel's NOTIFY batchd_stop is lost when no listener hears it (here there is none at all):
// the flag it leaves in the session row reaches the node running the session at its next
// heartbeat, once, and only that node.
TEST_F(PgNodesTest, ACancelWhoseNotificationWasLostStopsTheSessionAtTheNextHeartbeatOnce) {
  Mutex mu;
  std::vector<RemoteStop> stops;
  auto k = StartKeeper("k", 20ms, [&](const RemoteStop& stop) {
    MutexLock lock(mu);
    stops.push_back(stop);
  });
  ASSERT_NE(k, nullptr);
  const int64_t other = InsertNode("other", clock_.Now());
  InsertBatch(4);
  auto mine = StartScheduling(k->node_id());
  auto theirs = StartScheduling(other);
  auto claimed_here = Claim(*mine, 2, clock_.Now());
  auto claimed_there = Claim(*theirs, 2, clock_.Now());
  ASSERT_TRUE(claimed_here.ok() && claimed_there.ok());
  ASSERT_EQ(claimed_here->sessions.size(), 2u);
  ASSERT_EQ(claimed_there->sessions.size(), 2u);
  const int64_t canceled_here = claimed_here->sessions[0].id;
  ASSERT_TRUE(CancelSession(*conn_, canceled_here, clock_.Now()).ok());
  ASSERT_TRUE(CancelSession(*conn_, claimed_there->sessions[0].id, clock_.Now()).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE stop_requested <> 0"), 2);

  auto stop_count = [&] {
    MutexLock lock(mu);
    return stops.size();
  };
  ASSERT_TRUE(batchd::testing::PollUntil([&] { return stop_count() > 0; }));
  // Two more heartbeats: the first has surely finished its stop check once the second beat.
  for (int beat = 0; beat < 2; ++beat) {
    clock_.Advance(1ms);
    WaitFor("SELECT count(*) FROM node WHERE name = 'k' AND heartbeat_at = " +
                std::to_string(clock_.Now()),
            "1");
  }
  MutexLock lock(mu);
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].session_id, canceled_here);
  EXPECT_FALSE(stops[0].batch_public_id);
}

TEST_F(PgNodesTest, ABatchCancelFlagsItsSessionsInProgressOnly) {
  const int64_t node = InsertNode("n", clock_.Now());
  const int64_t batch = InsertBatch(5, /*priority=*/1, std::nullopt, /*max_attempts=*/3);
  const int64_t bystander = InsertBatch(3);
  auto sched = StartScheduling(node);
  auto first = Claim(*sched, 2, clock_.Now());
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->sessions.size(), 2u);
  ASSERT_EQ(first->sessions[0].batch_id, batch);
  auto second = Claim(*sched, 4, clock_.Now());
  ASSERT_TRUE(second.ok());
  const std::string batch_public_id =
      QueryText("SELECT public_id FROM batch WHERE id = " + std::to_string(batch));
  ASSERT_TRUE(CancelBatch(*conn_, batch_public_id, clock_.Now()).ok());
  // Its in-progress sessions only: not its fresh ones (canceled at once), not the other batch's.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE stop_requested <> 0"),
            QueryInt("SELECT count(*) FROM session WHERE state = 1 AND batch_id = " +
                     std::to_string(batch)));
  EXPECT_GE(QueryInt("SELECT count(*) FROM session WHERE stop_requested <> 0"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE stop_requested <> 0 AND batch_id = " +
                     std::to_string(bystander)),
            0);
}

// The flag is for the attempt that was asked to stop: a session requeued with it still set (its
// node died before stopping it) or flagged while fresh starts its next attempt without it.
TEST_F(PgNodesTest, AClaimStartsTheAttemptWithoutAStopRequest) {
  const int64_t node = InsertNode("n", clock_.Now());
  const int64_t batch = InsertBatch(3);
  const int64_t first = QueryInt("SELECT min(id) FROM session");
  ASSERT_TRUE(conn_->Run("UPDATE session SET stop_requested = 1").ok());
  // The first ran once and was requeued (below the claim cursor); the others are fresh.
  ASSERT_TRUE(conn_
                  ->Run("UPDATE session SET not_before = 0, attempts = 1 WHERE id = $1",
                        {PgParam::Int(first)})
                  .ok());
  ASSERT_TRUE(conn_->Run("UPDATE batch SET claim_cursor = $1", {PgParam::Int(first + 1)}).ok());
  auto sched = StartScheduling(node);
  auto claimed = Claim(*sched, 3, clock_.Now());
  ASSERT_TRUE(claimed.ok()) << claimed.status().message();
  ASSERT_EQ(claimed->sessions.size(), 3u);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE state = 1 AND stop_requested = 0 AND "
                     "batch_id = " +
                     std::to_string(batch)),
            3);
}

TEST_F(PgNodesTest, AKeeperCannotStartWithoutAServer) {
  auto k = PgNodeKeeper::Start(
      {.uri = "postgresql://batchd@127.0.0.1:1/none?connect_timeout=2", .identity = {.name = "x"}});
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace batchd::storage::pg
