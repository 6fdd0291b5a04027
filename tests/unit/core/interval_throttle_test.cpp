// IntervalThrottle's rules, on a clock the test steps by hand: the first call passes, then one per
// interval (exactly the interval is enough), a refused call does not restart the interval, a
// forced pass always passes and does, a zero interval lets everything through, a clock stepping
// back waits, callers racing in one interval let exactly one through, and MillisUntilNextPass
// agrees with TryPass at every step.
#include "core/interval_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace batchd {
namespace {

// A clock the test sets; safe to read from several threads.
struct ManualClock {
  std::atomic<int64_t> now{0};
  SteadyClock AsClock() {
    return [this] { return now.load(); };
  }
};

TEST(IntervalThrottleTest, TheFirstCallPassesThenOnePerInterval) {
  ManualClock clock;
  clock.now = 5000;
  IntervalThrottle throttle(100, clock.AsClock());
  EXPECT_TRUE(throttle.TryPass());
  EXPECT_FALSE(throttle.TryPass()) << "same instant";
  clock.now = 5099;
  EXPECT_FALSE(throttle.TryPass()) << "1 ms short";
  clock.now = 5100;
  EXPECT_TRUE(throttle.TryPass()) << "exactly one interval later";
  EXPECT_FALSE(throttle.TryPass());
}

TEST(IntervalThrottleTest, TheFirstCallPassesWhateverTheClockSays) {
  for (int64_t start : {int64_t{0}, int64_t{-1'000'000}, int64_t{1} << 62}) {
    ManualClock clock;
    clock.now = start;
    IntervalThrottle throttle(100, clock.AsClock());
    EXPECT_TRUE(throttle.TryPass()) << start;
    EXPECT_FALSE(throttle.TryPass()) << start;
  }
}

TEST(IntervalThrottleTest, ARefusedCallDoesNotRestartTheInterval) {
  ManualClock clock;
  IntervalThrottle throttle(100, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass());  // at 0
  for (int64_t t : {10, 50, 99}) {
    clock.now = t;
    EXPECT_FALSE(throttle.TryPass()) << t;
  }
  clock.now = 100;
  EXPECT_TRUE(throttle.TryPass()) << "measured from the last pass (0), not the last try (99)";
}

TEST(IntervalThrottleTest, APassRestartsTheInterval) {
  ManualClock clock;
  IntervalThrottle throttle(100, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass());
  clock.now = 130;
  ASSERT_TRUE(throttle.TryPass());
  clock.now = 229;
  EXPECT_FALSE(throttle.TryPass()) << "the interval runs from 130";
  clock.now = 230;
  EXPECT_TRUE(throttle.TryPass());
}

TEST(IntervalThrottleTest, AForcedPassAlwaysPassesAndRestartsTheInterval) {
  ManualClock clock;
  IntervalThrottle throttle(100, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass());
  clock.now = 10;
  EXPECT_TRUE(throttle.TryPass(/*force=*/true));
  EXPECT_TRUE(throttle.TryPass(/*force=*/true)) << "even twice at one instant";
  clock.now = 100;
  EXPECT_FALSE(throttle.TryPass()) << "the interval runs from the forced pass at 10";
  clock.now = 110;
  EXPECT_TRUE(throttle.TryPass());
}

TEST(IntervalThrottleTest, AForcedFirstPassStartsTheFirstInterval) {
  // What CheckpointTimer does at construction: the first ordinary pass then waits an interval.
  ManualClock clock;
  IntervalThrottle throttle(1000, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass(/*force=*/true));
  clock.now = 999;
  EXPECT_FALSE(throttle.TryPass());
  clock.now = 1000;
  EXPECT_TRUE(throttle.TryPass());
}

TEST(IntervalThrottleTest, AZeroIntervalLetsEveryCallThrough) {
  ManualClock clock;
  IntervalThrottle throttle(0, clock.AsClock());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(throttle.TryPass()) << i;
}

TEST(IntervalThrottleTest, AClockSteppingBackWaitsUntilItIsAnIntervalPastTheLastPass) {
  ManualClock clock;
  clock.now = 1000;
  IntervalThrottle throttle(100, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass());
  clock.now = 500;
  EXPECT_FALSE(throttle.TryPass());
  clock.now = 1099;
  EXPECT_FALSE(throttle.TryPass());
  clock.now = 1100;
  EXPECT_TRUE(throttle.TryPass());
}

TEST(IntervalThrottleTest, CallersRacingInOneIntervalLetExactlyOneThrough) {
  ManualClock clock;  // frozen: every call is in the same interval
  IntervalThrottle throttle(100, clock.AsClock());
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (throttle.TryPass()) ++passed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(passed.load(), 1);
  clock.now = 100;
  EXPECT_TRUE(throttle.TryPass());
}

TEST(IntervalThrottleTest, MillisUntilNextPassCountsDownToTheNextPass) {
  ManualClock clock;
  clock.now = 1000;
  IntervalThrottle throttle(100, clock.AsClock());
  EXPECT_EQ(throttle.MillisUntilNextPass(), 0) << "nothing passed yet: due now";
  ASSERT_TRUE(throttle.TryPass());
  EXPECT_EQ(throttle.MillisUntilNextPass(), 100);
  clock.now = 1030;
  EXPECT_EQ(throttle.MillisUntilNextPass(), 70);
  EXPECT_FALSE(throttle.TryPass());
  EXPECT_EQ(throttle.MillisUntilNextPass(), 70) << "a refused call changes nothing";
  clock.now = 1099;
  EXPECT_EQ(throttle.MillisUntilNextPass(), 1);
  clock.now = 1100;
  EXPECT_EQ(throttle.MillisUntilNextPass(), 0);
  EXPECT_EQ(throttle.MillisUntilNextPass(), 0) << "asking does not pass";
  clock.now = 5000;
  EXPECT_EQ(throttle.MillisUntilNextPass(), 0) << "long overdue is still just due";
  ASSERT_TRUE(throttle.TryPass());
  EXPECT_EQ(throttle.MillisUntilNextPass(), 100) << "the pass at 5000 restarted the interval";
}

TEST(IntervalThrottleTest, MillisUntilNextPassAgreesWithTryPassAtEveryStep) {
  // Steps the clock 1 ms at a time: TryPass passes exactly when MillisUntilNextPass said 0.
  ManualClock clock;
  IntervalThrottle throttle(7, clock.AsClock());
  int passes = 0;
  for (int64_t t = 0; t < 100; ++t) {
    clock.now = t;
    const int64_t left = throttle.MillisUntilNextPass();
    EXPECT_GE(left, 0) << t;
    EXPECT_EQ(throttle.TryPass(), left == 0) << t;
    if (left == 0) ++passes;
  }
  EXPECT_EQ(passes, 15) << "0, 7, ..., 98";
}

TEST(IntervalThrottleTest, MillisUntilNextPassAfterAForcedPassOrAClockSteppingBack) {
  ManualClock clock;
  clock.now = 1000;
  IntervalThrottle throttle(100, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass());
  clock.now = 1040;
  ASSERT_TRUE(throttle.TryPass(/*force=*/true));
  EXPECT_EQ(throttle.MillisUntilNextPass(), 100) << "the forced pass restarted the interval";
  clock.now = 900;  // back 140 ms
  EXPECT_EQ(throttle.MillisUntilNextPass(), 240) << "due again at 1140, as TryPass would be";
  clock.now = 1139;
  EXPECT_FALSE(throttle.TryPass());
  EXPECT_EQ(throttle.MillisUntilNextPass(), 1);
}

TEST(IntervalThrottleTest, MillisUntilNextPassOfAZeroIntervalIsAlwaysZero) {
  ManualClock clock;
  IntervalThrottle throttle(0, clock.AsClock());
  ASSERT_TRUE(throttle.TryPass());
  EXPECT_EQ(throttle.MillisUntilNextPass(), 0);
}

TEST(IntervalThrottleTest, WorksOnTheDefaultClock) {
  // The default clock (SteadyMillis) is there and goes forward; how fast is not this test's
  // business.
  IntervalThrottle throttle(100);
  EXPECT_TRUE(throttle.TryPass());
  EXPECT_TRUE(throttle.TryPass(/*force=*/true));
  const int64_t a = SteadyMillis();
  const int64_t b = SteadyMillis();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace batchd
