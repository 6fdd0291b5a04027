// ByteBudget's rules: what fits is granted up to the limit exactly, a reservation larger than the
// whole budget (a zero budget included) passes alone, releasing makes room, Fitting counts what
// TryReserve would grant in a row, and giving back what was never reserved is caught.
#include "pipeline/engine/byte_budget.h"

#include <gtest/gtest.h>

#include "debug_checks.h"

namespace batchd::pipeline {
namespace {

TEST(ByteBudgetTest, GrantsReservationsUpToTheLimitExactly) {
  ByteBudget budget(192);
  EXPECT_TRUE(budget.TryReserve(64));
  EXPECT_TRUE(budget.TryReserve(64));
  EXPECT_TRUE(budget.TryReserve(64));  // 192 of 192: exactly full still fits
  EXPECT_EQ(budget.reserved(), 192);
  EXPECT_EQ(budget.holders(), 3);
  EXPECT_FALSE(budget.Fits(1));
  EXPECT_FALSE(budget.TryReserve(64));
  EXPECT_EQ(budget.reserved(), 192) << "a refused reservation holds nothing";
  EXPECT_EQ(budget.holders(), 3);
}

TEST(ByteBudgetTest, OneByteOverWhatIsLeftIsRefused) {
  ByteBudget budget(100);
  ASSERT_TRUE(budget.TryReserve(60));
  EXPECT_FALSE(budget.TryReserve(41));
  EXPECT_TRUE(budget.TryReserve(40));
  EXPECT_EQ(budget.reserved(), 100);
}

TEST(ByteBudgetTest, AReservationLargerThanTheWholeBudgetPassesAlone) {
  ByteBudget budget(10);
  EXPECT_TRUE(budget.TryReserve(64)) << "nothing held: it passes, or the session never runs";
  EXPECT_EQ(budget.reserved(), 64);
  EXPECT_FALSE(budget.TryReserve(64)) << "alone: not while another is held";
  EXPECT_FALSE(budget.TryReserve(1)) << "the budget is overdrawn: nothing else fits";
  budget.Release(64);
  EXPECT_TRUE(budget.empty());
  EXPECT_TRUE(budget.TryReserve(64));
}

TEST(ByteBudgetTest, AZeroBudgetLetsOneReservationThroughAtATime) {
  ByteBudget budget(0);
  EXPECT_TRUE(budget.Fits(4096));
  EXPECT_TRUE(budget.TryReserve(4096));
  EXPECT_FALSE(budget.TryReserve(4096));
  EXPECT_FALSE(budget.Fits(0)) << "a held reservation blocks even an empty one";
  EXPECT_EQ(budget.Fitting(4096), 0);
  budget.Release(4096);
  EXPECT_EQ(budget.Fitting(4096), 1);
}

TEST(ByteBudgetTest, ReleasingMakesRoomForExactlyWhatWasGivenBack) {
  ByteBudget budget(128);
  ASSERT_TRUE(budget.TryReserve(64));
  ASSERT_TRUE(budget.TryReserve(64));
  EXPECT_FALSE(budget.TryReserve(64));
  budget.Release(64);
  EXPECT_EQ(budget.reserved(), 64);
  EXPECT_EQ(budget.holders(), 1);
  EXPECT_FALSE(budget.TryReserve(65));
  EXPECT_TRUE(budget.TryReserve(64));
  budget.Release(64);
  budget.Release(64);
  EXPECT_TRUE(budget.empty());
  EXPECT_EQ(budget.reserved(), 0);
}

// Fitting is how the pipeline sizes a batch of direct reads before reserving them one by one
// (Reserve), so it must say exactly what TryReserve would grant in a row: no more (the budget
// would be exceeded) and no less (a lone oversized chunk would never be read directly).
TEST(ByteBudgetTest, FittingCountsWhatTryReserveWouldGrantInARow) {
  for (int64_t limit : {0, 1, 63, 64, 65, 191, 192, 1000}) {
    for (int64_t each : {1, 63, 64, 100, 1000, 5000}) {
      for (int64_t held : {0, 1, 2}) {
        ByteBudget budget(limit);
        for (int64_t i = 0; i < held; ++i) budget.TryReserve(each);
        if (budget.holders() != held) continue;  // that many do not fit: covered by fewer
        ByteBudget copy = budget;
        int64_t granted = 0;
        while (granted <= limit + 1 && copy.TryReserve(each)) ++granted;
        EXPECT_EQ(budget.Fitting(each), granted)
            << "limit " << limit << ", reservations of " << each << ", " << held << " held";
      }
    }
  }
}

TEST(ByteBudgetTest, ReserveHoldsWhatFittingCounted) {
  ByteBudget budget(200);
  ASSERT_TRUE(budget.TryReserve(30));
  const int64_t n = budget.Fitting(64);
  ASSERT_EQ(n, 2);  // 170 left
  for (int64_t i = 0; i < n; ++i) budget.Reserve(64);
  EXPECT_EQ(budget.reserved(), 158);
  EXPECT_EQ(budget.holders(), 3);
  EXPECT_EQ(budget.Fitting(64), 0);
  EXPECT_EQ(budget.Fitting(42), 1);
}

TEST(ByteBudgetDeathTest, ReleasingMoreThanIsReservedIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  ByteBudget budget(100);
  ASSERT_TRUE(budget.TryReserve(10));
  EXPECT_DEATH(budget.Release(11), "more than is reserved");
}

TEST(ByteBudgetDeathTest, ReleasingWithoutAReservationIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  ByteBudget budget(100);
  EXPECT_DEATH(budget.Release(0), "without a reservation");
}

TEST(ByteBudgetDeathTest, ReservingPastTheBudgetIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  ByteBudget budget(100);
  ASSERT_TRUE(budget.TryReserve(90));
  EXPECT_DEATH(budget.Reserve(20), "past the budget");
}

}  // namespace
}  // namespace batchd::pipeline
