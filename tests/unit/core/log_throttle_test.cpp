#include "core/log_throttle.h"

#include <gtest/gtest.h>

namespace batchd {
namespace {

using std::chrono::seconds;

TEST(LogThrottleTest, LogsTheFirstThenOncePerIntervalWithTheCountHeldBack) {
  LogThrottle throttle(seconds(60));
  const LogThrottle::Clock::time_point t0{};
  ASSERT_EQ(throttle.Admit(t0), std::optional<int64_t>(0));
  // A failure every second for the rest of the minute: counted, not logged.
  for (int s = 1; s < 60; ++s) EXPECT_FALSE(throttle.Admit(t0 + seconds(s)).has_value()) << s;
  EXPECT_EQ(throttle.Admit(t0 + seconds(60)), std::optional<int64_t>(59));
  EXPECT_FALSE(throttle.Admit(t0 + seconds(61)).has_value());
  // After a quiet spell the next one is logged at once, saying what was held back.
  EXPECT_EQ(throttle.Admit(t0 + seconds(600)), std::optional<int64_t>(1));
}

TEST(LogThrottleTest, TheSuffixSaysHowManyWereNotLogged) {
  EXPECT_EQ(SuppressedSuffix(0), "");
  EXPECT_NE(SuppressedSuffix(59).find("59 more"), std::string::npos) << SuppressedSuffix(59);
}

}  // namespace
}  // namespace batchd
