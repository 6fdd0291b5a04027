// Regression (found by the ASan integration run: LeakSanitizer at daemon exit): SleepOp
// registered a cancel callback holding the scheduler's done callback, which owns the session's
// CancelToken. A sleep that ended on its timer left that callback in the token, so the token,
// the session's state and its job kept each other alive: every completed sleep session leaked.
// The chunked sleep ({"chunks": N}, which reports progress) had the same cycle through its cancel
// callback, which held `done` and the tick (found the same way, in EventsTest, after the merge).
#include <gtest/gtest.h>

#include <future>
#include <memory>

#include "pipeline/ops/op_registry.h"

namespace batchd::pipeline {
namespace {

// A plain sleep, and a chunked one (its own code path).
class IssueSleepCancelCycleTest : public ::testing::TestWithParam<int64_t> {
 protected:
  nlohmann::json Job(int64_t ms) const {
    nlohmann::json job = {{"op", "sleep"}, {"ms", ms}};
    if (GetParam() > 0) job["chunks"] = GetParam();
    return job;
  }
};

TEST_P(IssueSleepCancelCycleTest, TokenIsFreedAfterTheSleepCompletes) {
  TimerService timers;
  OpRegistry ops;
  RegisterBuiltinOps(ops, timers);
  const Op* sleep = ops.Find("sleep");
  ASSERT_NE(sleep, nullptr);
  const nlohmann::json job = Job(4);
  Result<nlohmann::json> resolved = sleep->Prepare(job);
  ASSERT_TRUE(resolved.ok());

  auto token = std::make_shared<CancelToken>();
  std::weak_ptr<CancelToken> watch = token;
  std::promise<OpOutcome::Kind> finished;
  OpContext ctx{1, 1, std::make_shared<const nlohmann::json>(job),
                std::make_shared<const nlohmann::json>(*resolved), token};
  // Like the scheduler's: the done callback owns the token.
  sleep->Run(ctx, [token, &finished](OpOutcome outcome) { finished.set_value(outcome.kind); });
  ctx.cancel.reset();
  token.reset();
  EXPECT_EQ(finished.get_future().get(), OpOutcome::Kind::kCompleted);
  timers.Stop();  // the timer thread has let go of its callback
  EXPECT_TRUE(watch.expired()) << "the token outlived the sleep that used it";
}

TEST_P(IssueSleepCancelCycleTest, TokenIsFreedAfterACancel) {
  TimerService timers;
  OpRegistry ops;
  RegisterBuiltinOps(ops, timers);
  const Op* sleep = ops.Find("sleep");
  const nlohmann::json job = Job(600000);
  Result<nlohmann::json> resolved = sleep->Prepare(job);
  ASSERT_TRUE(resolved.ok());

  auto token = std::make_shared<CancelToken>();
  std::weak_ptr<CancelToken> watch = token;
  std::promise<OpOutcome::Kind> finished;
  sleep->Run({1, 1, std::make_shared<const nlohmann::json>(job),
              std::make_shared<const nlohmann::json>(*resolved), token},
             [token, &finished](OpOutcome outcome) { finished.set_value(outcome.kind); });
  token->Cancel(CancelToken::Reason::kCanceled);
  token.reset();
  EXPECT_EQ(finished.get_future().get(), OpOutcome::Kind::kCanceled);
  EXPECT_TRUE(watch.expired());
}

INSTANTIATE_TEST_SUITE_P(PlainAndChunked, IssueSleepCancelCycleTest, ::testing::Values(0, 4),
                         [](const auto& info) {
                           return info.param == 0 ? std::string("Plain") : std::string("Chunked");
                         });

}  // namespace
}  // namespace batchd::pipeline
