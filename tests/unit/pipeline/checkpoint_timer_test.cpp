// CheckpointTimer's rules, on a clock the test steps by hand: no checkpoint before the first
// interval from the start, none while no chunk was done since the last, one per interval
// otherwise (measured from the last checkpoint), and the final one always.
#include "pipeline/engine/checkpoint_timer.h"

#include <gtest/gtest.h>

#include <atomic>

namespace batchd::pipeline {
namespace {

struct ManualClock {
  std::atomic<int64_t> now{0};
  std::atomic<int> reads{0};
  SteadyClock AsClock() {
    return [this] {
      ++reads;
      return now.load();
    };
  }
};

TEST(CheckpointTimerTest, TheFirstIntervalRunsFromTheStart) {
  ManualClock clock;
  clock.now = 7000;
  CheckpointTimer timer(1000, clock.AsClock());
  EXPECT_FALSE(timer.TryTake(5, false));
  clock.now = 7999;
  EXPECT_FALSE(timer.TryTake(5, false)) << "1 ms short";
  clock.now = 8000;
  EXPECT_TRUE(timer.TryTake(5, false)) << "exactly one interval";
}

TEST(CheckpointTimerTest, NothingNewDoneIsNothingToSave) {
  ManualClock clock;
  CheckpointTimer timer(1000, clock.AsClock());
  clock.now = 1000;
  ASSERT_TRUE(timer.TryTake(5, false));
  clock.now = 60'000;
  EXPECT_FALSE(timer.TryTake(5, false)) << "the same 5 chunks are saved already";
  EXPECT_TRUE(timer.TryTake(6, false));
}

TEST(CheckpointTimerTest, OnePerIntervalMeasuredFromTheLastCheckpoint) {
  ManualClock clock;
  CheckpointTimer timer(1000, clock.AsClock());
  clock.now = 1500;
  ASSERT_TRUE(timer.TryTake(1, false));
  clock.now = 2000;
  EXPECT_FALSE(timer.TryTake(2, false)) << "the interval runs from 1500, not from 1000";
  clock.now = 2499;
  EXPECT_FALSE(timer.TryTake(3, false));
  clock.now = 2500;
  EXPECT_TRUE(timer.TryTake(3, false));
}

TEST(CheckpointTimerTest, TheFinalCheckpointIsAlwaysTaken) {
  ManualClock clock;
  CheckpointTimer timer(1000, clock.AsClock());
  EXPECT_TRUE(timer.TryTake(0, true)) << "a run that ends at once, nothing done";
  CheckpointTimer other(1000, clock.AsClock());
  clock.now = 1000;
  ASSERT_TRUE(other.TryTake(4, false));
  EXPECT_TRUE(other.TryTake(4, true)) << "right after another, nothing new done";
}

TEST(CheckpointTimerTest, TheFinalCheckpointRestartsTheInterval) {
  // A pipeline may still be asked after its end (a late cancel): no checkpoint follows at once.
  ManualClock clock;
  CheckpointTimer timer(1000, clock.AsClock());
  clock.now = 300;
  ASSERT_TRUE(timer.TryTake(9, true));
  clock.now = 1000;
  EXPECT_FALSE(timer.TryTake(10, false));
  clock.now = 1300;
  EXPECT_TRUE(timer.TryTake(10, false));
}

TEST(CheckpointTimerTest, AZeroIntervalSavesWheneverChunksWereDone) {
  ManualClock clock;
  CheckpointTimer timer(0, clock.AsClock());
  EXPECT_TRUE(timer.TryTake(1, false));
  EXPECT_FALSE(timer.TryTake(1, false));
  EXPECT_TRUE(timer.TryTake(2, false));
}

TEST(CheckpointTimerTest, AResumedRunCountsFromZero) {
  // The count starts at 0 even when a resumed run starts with chunks done: its first interval
  // saves once, whether or not this run did a chunk yet (the pipeline has always done so).
  ManualClock clock;
  CheckpointTimer timer(1000, clock.AsClock());
  clock.now = 1000;
  EXPECT_TRUE(timer.TryTake(30, false));
  clock.now = 2000;
  EXPECT_FALSE(timer.TryTake(30, false));
}

TEST(CheckpointTimerTest, TheClockIsNotReadWhileNothingNewIsDone) {
  // Asked after every batch a decode thread folds: an idle ask costs a compare, not a clock read.
  ManualClock clock;
  CheckpointTimer timer(1000, clock.AsClock());
  const int reads = clock.reads.load();
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(timer.TryTake(0, false));
  EXPECT_EQ(clock.reads.load(), reads);
}

}  // namespace
}  // namespace batchd::pipeline
