// The live progress coalescer on a clock the tests move by hand
// (storage/live_progress_coalescer.h): when a round is due, that the latest report of a session
// wins, the per-round cap and who goes first next, changed batches, the wake signals the ticker
// relies on, and the bounds.
#include "storage/live_progress_coalescer.h"

#include <gtest/gtest.h>

namespace batchd::storage {
namespace {

using std::chrono::milliseconds;

SessionLiveProgress Report(int64_t session, int64_t chunks_done) {
  return {.session_id = session, .batch_public_id = "b", .chunks_done = chunks_done};
}

std::vector<int64_t> Sessions(const LiveProgressCoalescer::Round& round) {
  std::vector<int64_t> out;
  for (const SessionLiveProgress& r : round.reports) out.push_back(r.session_id);
  return out;
}

class LiveProgressCoalescerTest : public ::testing::Test {
 protected:
  LiveProgressCoalescer Make(LiveProgressCoalescerOptions options = {}) {
    return LiveProgressCoalescer(options, [this] { return now_ms_; });
  }
  int64_t now_ms_ = 1'000'000;
};

TEST_F(LiveProgressCoalescerTest, NothingIsDueWhileNothingWaits) {
  LiveProgressCoalescer c = Make();
  EXPECT_FALSE(c.DueIn());
  EXPECT_FALSE(c.StartRoundIfDue());
  EXPECT_FALSE(c.BatchesChanged({})) << "an empty change is no news";
  EXPECT_FALSE(c.DueIn());
}

TEST_F(LiveProgressCoalescerTest, TheFirstRoundIsDueAtOnceThenAtMostOncePerInterval) {
  LiveProgressCoalescer c = Make({.interval = milliseconds(100)});
  EXPECT_TRUE(c.Report(Report(1, 1))) << "the first news wakes the ticker";
  EXPECT_EQ(c.DueIn(), milliseconds(0));
  ASSERT_TRUE(c.StartRoundIfDue());
  EXPECT_EQ(Sessions(c.TakeRound()), std::vector<int64_t>{1});

  now_ms_ += 30;
  EXPECT_TRUE(c.Report(Report(1, 2)));
  EXPECT_EQ(c.DueIn(), milliseconds(70)) << "100 ms after the last round started";
  EXPECT_FALSE(c.StartRoundIfDue());
  now_ms_ += 69;
  EXPECT_FALSE(c.StartRoundIfDue());
  EXPECT_EQ(c.DueIn(), milliseconds(1));
  now_ms_ += 1;
  EXPECT_TRUE(c.StartRoundIfDue());
  const LiveProgressCoalescer::Round round = c.TakeRound();
  ASSERT_EQ(round.reports.size(), 1u);
  EXPECT_EQ(round.reports[0].chunks_done, 2);
  EXPECT_FALSE(round.more);
  EXPECT_FALSE(c.DueIn()) << "all taken";
}

TEST_F(LiveProgressCoalescerTest, TheLatestReportOfASessionWinsAndKeepsItsPlaceInLine) {
  LiveProgressCoalescer c = Make();
  EXPECT_TRUE(c.Report(Report(7, 1)));
  EXPECT_FALSE(c.Report(Report(3, 1))) << "the ticker already knows something waits";
  EXPECT_FALSE(c.Report(Report(7, 5)));
  ASSERT_TRUE(c.StartRoundIfDue());
  const LiveProgressCoalescer::Round round = c.TakeRound();
  EXPECT_EQ(Sessions(round), (std::vector<int64_t>{7, 3})) << "first reported, first out";
  EXPECT_EQ(round.reports[0].chunks_done, 5) << "only the latest of session 7";
}

TEST_F(LiveProgressCoalescerTest, NoRoundStartsWhileOneIsOutAndWhatComesMeanwhileGoesWithIt) {
  LiveProgressCoalescer c = Make({.interval = milliseconds(100)});
  c.Report(Report(1, 1));
  ASSERT_TRUE(c.StartRoundIfDue());
  EXPECT_FALSE(c.Report(Report(2, 1))) << "the job about to run takes it: no wake";
  EXPECT_FALSE(c.BatchesChanged({4}));
  EXPECT_FALSE(c.DueIn());
  now_ms_ += 1000;
  EXPECT_FALSE(c.StartRoundIfDue()) << "one progress job queued at most";
  const LiveProgressCoalescer::Round round = c.TakeRound();
  EXPECT_EQ(Sessions(round), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(round.batches, std::vector<int64_t>{4});
  EXPECT_TRUE(c.Report(Report(3, 1))) << "after the round, news wakes again";
}

TEST_F(LiveProgressCoalescerTest, ARoundHoldsAtMostTheCapAndTheRestGoFirstNextRound) {
  LiveProgressCoalescer c = Make({.interval = milliseconds(100), .max_reports_per_round = 2});
  for (int64_t s = 1; s <= 3; ++s) c.Report(Report(s, 1));
  ASSERT_TRUE(c.StartRoundIfDue());
  LiveProgressCoalescer::Round first = c.TakeRound();
  EXPECT_EQ(Sessions(first), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(first.more) << "the caller must wake the ticker for the rest";
  c.Report(Report(1, 2));
  EXPECT_EQ(c.DueIn(), milliseconds(100)) << "the rest wait an interval too";
  now_ms_ += 100;
  ASSERT_TRUE(c.StartRoundIfDue());
  LiveProgressCoalescer::Round second = c.TakeRound();
  EXPECT_EQ(Sessions(second), (std::vector<int64_t>{3, 1}));
  EXPECT_FALSE(second.more);
}

TEST_F(LiveProgressCoalescerTest, ChangedBatchesAreTakenOnceEachInOrder) {
  LiveProgressCoalescer c = Make();
  EXPECT_TRUE(c.BatchesChanged({9, 2, 9}));
  EXPECT_FALSE(c.BatchesChanged({2, 5}));
  EXPECT_EQ(c.DueIn(), milliseconds(0));
  ASSERT_TRUE(c.StartRoundIfDue());
  const LiveProgressCoalescer::Round round = c.TakeRound();
  EXPECT_EQ(round.batches, (std::vector<int64_t>{2, 5, 9}));
  EXPECT_TRUE(round.reports.empty());
  EXPECT_TRUE(c.TakeRound().batches.empty()) << "taken means gone";
}

TEST_F(LiveProgressCoalescerTest, ACanceledRoundLeavesEverythingForTheNextOne) {
  LiveProgressCoalescer c = Make({.interval = milliseconds(100)});
  c.Report(Report(1, 1));
  c.BatchesChanged({4});
  ASSERT_TRUE(c.StartRoundIfDue());
  c.CancelRound();  // the writer refused the job
  EXPECT_EQ(c.DueIn(), milliseconds(100)) << "due again an interval after that start";
  now_ms_ += 100;
  ASSERT_TRUE(c.StartRoundIfDue());
  const LiveProgressCoalescer::Round round = c.TakeRound();
  EXPECT_EQ(Sessions(round), std::vector<int64_t>{1});
  EXPECT_EQ(round.batches, std::vector<int64_t>{4});
}

TEST_F(LiveProgressCoalescerTest,
       ReportsOfNewSessionsPastTheBoundAreDroppedWaitingOnesStillUpdate) {
  LiveProgressCoalescer c = Make({.max_pending_sessions = 2});
  c.Report(Report(1, 1));
  c.Report(Report(2, 1));
  EXPECT_FALSE(c.Report(Report(3, 1)));
  c.Report(Report(2, 9));
  ASSERT_TRUE(c.StartRoundIfDue());
  const LiveProgressCoalescer::Round round = c.TakeRound();
  EXPECT_EQ(Sessions(round), (std::vector<int64_t>{1, 2})) << "session 3 was over the bound";
  EXPECT_EQ(round.reports[1].chunks_done, 9);
  EXPECT_TRUE(c.Report(Report(3, 2))) << "room again once taken";
}

}  // namespace
}  // namespace batchd::storage
