#include "core/batch_state.h"

#include <gtest/gtest.h>

namespace batchd {
namespace {

TEST(BatchStateTest, NamesRoundTripAndUnknownNamesAreNoState) {
  for (BatchState s :
       {BatchState::kEnqueuing, BatchState::kQueued, BatchState::kRunning, BatchState::kPaused,
        BatchState::kCompleted, BatchState::kFailed, BatchState::kCanceled}) {
    EXPECT_EQ(ParseBatchState(BatchStateName(s)), s);
  }
  EXPECT_FALSE(ParseBatchState("done").has_value());
  EXPECT_FALSE(ParseBatchState("").has_value());
}

TEST(BatchStateTest, OnlyCompletedFailedAndCanceledAreFinished) {
  EXPECT_TRUE(IsFinished(BatchState::kCompleted));
  EXPECT_TRUE(IsFinished(BatchState::kFailed));
  EXPECT_TRUE(IsFinished(BatchState::kCanceled));
  EXPECT_FALSE(IsFinished(BatchState::kEnqueuing));
  EXPECT_FALSE(IsFinished(BatchState::kQueued));
  EXPECT_FALSE(IsFinished(BatchState::kRunning));
  EXPECT_FALSE(IsFinished(BatchState::kPaused));
  EXPECT_TRUE(IsFinished("canceled"));
  EXPECT_FALSE(IsFinished("paused"));
  EXPECT_FALSE(IsFinished("finished"));  // no such state
}

struct Case {
  int64_t uninitialized, in_progress, completed, error, canceled;
  bool paused;
  BatchState expected;
};

TEST(BatchStateTest, TheCountersImplyTheState) {
  const Case cases[] = {
      {5, 0, 0, 0, 0, false, BatchState::kQueued},
      {5, 0, 0, 0, 0, true, BatchState::kPaused},
      {4, 1, 0, 0, 0, false, BatchState::kRunning},
      {4, 0, 1, 0, 0, false, BatchState::kRunning},  // claimed once, nothing running now
      {4, 1, 0, 0, 0, true, BatchState::kPaused},    // paused wins over running
      {0, 0, 5, 0, 0, false, BatchState::kCompleted},
      {0, 0, 5, 0, 0, true, BatchState::kCompleted},  // finished wins over paused
      {0, 0, 3, 1, 1, false, BatchState::kFailed},    // an error wins over a cancel
      {0, 0, 3, 0, 2, false, BatchState::kCanceled},
      {0, 1, 3, 1, 0, false, BatchState::kRunning},    // not finished while one runs
      {0, 0, 0, 0, 0, false, BatchState::kCompleted},  // nothing to run
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DeriveBatchState(c.uninitialized, c.in_progress, c.completed, c.error, c.canceled,
                               c.paused),
              c.expected)
        << c.uninitialized << " " << c.in_progress << " " << c.completed << " " << c.error << " "
        << c.canceled << " paused " << c.paused;
  }
}

}  // namespace
}  // namespace batchd
