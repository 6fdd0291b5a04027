// One conformance check per built-in op (Prepare accepts what it documents and names the member
// it rejects; Run calls done exactly once; a cancel ends it), plus the timer and cancel token.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "pipeline/ops/op_registry.h"

namespace batchd::pipeline {
namespace {

class BuiltinOpsTest : public ::testing::Test {
 protected:
  BuiltinOpsTest() { RegisterBuiltinOps(registry_, timers_); }

  // Prepares and runs `job`, returning the outcome and how many times done was called.
  std::pair<OpOutcome, int> Run(const nlohmann::json& job, int64_t attempt = 1,
                                std::shared_ptr<CancelToken> cancel = nullptr) {
    const Op* op = registry_.Find(job.at("op").get<std::string>());
    EXPECT_NE(op, nullptr);
    Result<nlohmann::json> resolved = op->Prepare(job);
    EXPECT_TRUE(resolved.ok()) << resolved.status().ToString();
    if (!cancel) cancel = std::make_shared<CancelToken>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto outcome = std::make_shared<std::promise<OpOutcome>>();
    OpContext ctx{1, attempt, std::make_shared<const nlohmann::json>(job),
                  std::make_shared<const nlohmann::json>(*resolved), cancel};
    op->Run(ctx, [calls, outcome](OpOutcome o) {
      if (calls->fetch_add(1) == 0) outcome->set_value(std::move(o));
    });
    OpOutcome o = outcome->get_future().get();
    return {std::move(o), calls->load()};
  }

  TimerService timers_;
  OpRegistry registry_;
};

TEST_F(BuiltinOpsTest, RegistryKnowsExactlyTheBuiltins) {
  EXPECT_EQ(registry_.Names(), (std::vector<std::string>{"fail", "noop", "sleep"}));
  EXPECT_EQ(registry_.Find("nope"), nullptr);
}

TEST_F(BuiltinOpsTest, NoopCompletesAtOnce) {
  auto [outcome, calls] = Run({{"op", "noop"}});
  EXPECT_EQ(outcome.kind, OpOutcome::Kind::kCompleted);
  EXPECT_EQ(calls, 1);
}

TEST_F(BuiltinOpsTest, SleepCompletesAfterItsTime) {
  auto [outcome, calls] = Run({{"op", "sleep"}, {"ms", 5}});
  EXPECT_EQ(outcome.kind, OpOutcome::Kind::kCompleted);
  EXPECT_EQ(calls, 1);
}

TEST_F(BuiltinOpsTest, SleepEndsCanceledWhenItsTokenIsCanceled) {
  auto cancel = std::make_shared<CancelToken>();
  std::thread canceller([cancel] { cancel->Cancel(CancelToken::Reason::kCanceled); });
  auto [outcome, calls] = Run({{"op", "sleep"}, {"ms", 600000}}, 1, cancel);
  canceller.join();
  EXPECT_EQ(outcome.kind, OpOutcome::Kind::kCanceled);
  EXPECT_EQ(calls, 1);
}

TEST_F(BuiltinOpsTest, SleepWithChunksReportsEachChunkThenCompletes) {
  const Op* sleep = registry_.Find("sleep");
  const nlohmann::json job = {{"op", "sleep"}, {"ms", 20}, {"chunks", 10}};
  Result<nlohmann::json> resolved = sleep->Prepare(job);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  std::mutex mu;
  std::vector<LiveProgress> reports;
  std::vector<std::vector<bool>> maps;
  auto outcome = std::make_shared<std::promise<OpOutcome>>();
  OpContext ctx{1,
                1,
                std::make_shared<const nlohmann::json>(job),
                std::make_shared<const nlohmann::json>(*resolved),
                std::make_shared<CancelToken>(),
                [&](const LiveProgress& p) {
                  std::lock_guard lock(mu);
                  reports.push_back(p);
                  std::vector<bool> map(static_cast<size_t>(p.done->total()));
                  for (int64_t c = 0; c < p.done->total(); ++c) {
                    map[static_cast<size_t>(c)] = p.done->IsDone(c);
                  }
                  maps.push_back(std::move(map));
                }};
  sleep->Run(ctx, [outcome](OpOutcome o) { outcome->set_value(std::move(o)); });
  const OpOutcome o = outcome->get_future().get();
  EXPECT_EQ(o.kind, OpOutcome::Kind::kCompleted);
  std::lock_guard lock(mu);
  ASSERT_EQ(reports.size(), 10u);
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].chunks_done, static_cast<int64_t>(i + 1));
    EXPECT_EQ(reports[i].chunks_total, 10);
    EXPECT_EQ(std::count(maps[i].begin(), maps[i].end(), true), static_cast<long>(i + 1))
        << "the map marks exactly the chunks done so far";
  }
  EXPECT_NE(maps[1],
            std::vector<bool>({true, true, false, false, false, false, false, false, false, false}))
      << "chunks finish scattered, not in order";
}

TEST_F(BuiltinOpsTest, SleepWithChunksStopsReportingWhenCanceled) {
  auto cancel = std::make_shared<CancelToken>();
  std::atomic<int> reports{0};
  const Op* sleep = registry_.Find("sleep");
  const nlohmann::json job = {{"op", "sleep"}, {"ms", 600000}, {"chunks", 3}};
  Result<nlohmann::json> resolved = sleep->Prepare(job);
  ASSERT_TRUE(resolved.ok());
  auto outcome = std::make_shared<std::promise<OpOutcome>>();
  OpContext ctx{1,
                1,
                std::make_shared<const nlohmann::json>(job),
                std::make_shared<const nlohmann::json>(*resolved),
                cancel,
                [&](const LiveProgress&) { ++reports; }};
  sleep->Run(ctx, [outcome](OpOutcome o) { outcome->set_value(std::move(o)); });
  cancel->Cancel(CancelToken::Reason::kCanceled);
  EXPECT_EQ(outcome->get_future().get().kind, OpOutcome::Kind::kCanceled);
  EXPECT_EQ(reports.load(), 0) << "the first chunk was 200 s away";
}

TEST_F(BuiltinOpsTest, SleepRejectsBadChunksNamingThem) {
  const Op* sleep = registry_.Find("sleep");
  for (const nlohmann::json& chunks :
       {nlohmann::json(-1), nlohmann::json("3"), nlohmann::json(2'000'000)}) {
    Result<nlohmann::json> r = sleep->Prepare({{"op", "sleep"}, {"ms", 1}, {"chunks", chunks}});
    ASSERT_FALSE(r.ok()) << chunks;
    EXPECT_EQ(r.status().path(), "/chunks");
  }
}

TEST_F(BuiltinOpsTest, SleepRejectsAMissingOrBadMsNamingIt) {
  const Op* sleep = registry_.Find("sleep");
  for (const nlohmann::json& job :
       {nlohmann::json{{"op", "sleep"}}, nlohmann::json{{"op", "sleep"}, {"ms", -1}},
        nlohmann::json{{"op", "sleep"}, {"ms", "5"}},
        nlohmann::json{{"op", "sleep"}, {"ms", 1.5}}}) {
    Result<nlohmann::json> r = sleep->Prepare(job);
    ASSERT_FALSE(r.ok()) << job.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().path(), "/ms");
  }
}

TEST_F(BuiltinOpsTest, FailFailsUntilTheGivenAttemptWithItsKind) {
  const nlohmann::json transient = {{"op", "fail"}, {"kind", "transient"}, {"until_attempt", 3}};
  auto [first, c1] = Run(transient, 1);
  EXPECT_EQ(first.kind, OpOutcome::Kind::kFailed);
  EXPECT_TRUE(IsTransient(first.error));
  auto [third, c3] = Run(transient, 3);
  EXPECT_EQ(third.kind, OpOutcome::Kind::kCompleted);

  auto [permanent, c] = Run({{"op", "fail"}, {"message", "boom"}}, 7);
  EXPECT_EQ(permanent.kind, OpOutcome::Kind::kFailed);
  EXPECT_FALSE(IsTransient(permanent.error));
  EXPECT_EQ(permanent.error.message(), "boom");

  Result<nlohmann::json> bad = registry_.Find("fail")->Prepare({{"op", "fail"}, {"kind", "x"}});
  EXPECT_EQ(bad.status().path(), "/kind");
}

TEST(CancelTokenTest, FirstReasonWinsAndLateCallbacksRunAtOnce) {
  CancelToken token;
  int runs = 0;
  token.OnCancel([&] { ++runs; });
  EXPECT_FALSE(token.canceled());
  token.Cancel(CancelToken::Reason::kShutdown);
  token.Cancel(CancelToken::Reason::kCanceled);
  EXPECT_EQ(token.reason(), CancelToken::Reason::kShutdown);
  EXPECT_EQ(runs, 1);
  token.OnCancel([&] { ++runs; });
  EXPECT_EQ(runs, 2);
}

TEST(TimerServiceTest, CanceledTimersNeverRunAndOthersRunInDeadlineOrder) {
  TimerService timers;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> last;
  auto record = [&](int n) {
    std::lock_guard lock(mu);
    order.push_back(n);
  };
  timers.Schedule(std::chrono::milliseconds(30), [&] {
    record(3);
    last.set_value();
  });
  const auto doomed = timers.Schedule(std::chrono::milliseconds(10), [&] { record(99); });
  timers.Schedule(std::chrono::milliseconds(1), [&] { record(1); });
  timers.Schedule(std::chrono::milliseconds(20), [&] { record(2); });
  EXPECT_TRUE(timers.Cancel(doomed));
  last.get_future().wait();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(timers.Cancel(doomed));
}

}  // namespace
}  // namespace batchd::pipeline
