// Checkpoints and batch results in the store: a checkpoint is kept only while its session
// runs and comes back with the session when it is claimed again; a batch's result folds each
// completed session's result exactly once, in the completion's own transaction (was
// tests/unit/storage/checkpoint_and_results_test.cpp).
#include <gtest/gtest.h>

#include "tests/conformance/conformance_fixture.h"
#include "tests/support/manual_clock.h"

namespace batchd::storage::conformance {
namespace {

using storage::testing::Await;
using storage::testing::MakeBatch;

// A merger that appends the session's result (a number) to a list, and counts its calls.
struct ListMerger {
  std::shared_ptr<int> calls = std::make_shared<int>(0);

  ResultMerger Get() const {
    return [calls = calls](std::string_view op, const std::optional<std::string>& aggregate,
                           std::string_view result) -> Result<std::optional<std::string>> {
      ++*calls;
      if (op == "unfoldable") return std::optional<std::string>();
      if (op == "broken") return Status::Internal("cannot fold");
      // "[1,2]" + "3" -> "[1,2,3]"
      std::string list = aggregate ? aggregate->substr(0, aggregate->size() - 1) + "," : "[";
      return std::optional<std::string>(list + std::string(result) + "]");
    };
  }
};

class CheckpointAndResultsTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    StoreConformanceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Open({.merge_results = merger_.Get(), .clock = clock_.AsWallClock()}));
  }

  BatchCreated Create(uint64_t n) { return StoreConformanceTest::Create(MakeBatch(n)); }

  std::vector<ClaimedSession> Claim(int n) {
    return StoreConformanceTest::Claim(n, clock_.Now()).sessions;
  }

  bool Finish(const ClaimedSession& c, SessionOutcome::Target target,
              std::optional<std::string> result = std::nullopt, std::string op = "sum") {
    SessionOutcome o{.session_id = c.id, .batch_id = c.batch_id, .target = target};
    o.finished_at_ms = clock_.Now();
    o.not_before_ms = clock_.Now();
    o.result_json = std::move(result);
    o.op = o.result_json ? std::move(op) : "";
    Result<bool> r = Await<bool>([&](auto cb) { store().FinishSession(o, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  }

  SessionDetail Detail(int64_t id) {
    Result<SessionDetail> r = Await<SessionDetail>([&](auto cb) { store().GetSession(id, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : SessionDetail{};
  }

  std::optional<std::string> BatchResult(const std::string& id) {
    Result<BatchRecord> r = Await<BatchRecord>([&](auto cb) { store().GetBatch(id, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->result_json : std::nullopt;
  }

  ListMerger merger_;
  batchd::testing::ManualClock clock_;  // the store reads it until TearDown closes the store
};

TEST_P(CheckpointAndResultsTest, CheckpointOfARunningSessionIsStoredAndComesBackAtTheNextClaim) {
  Create(1);
  std::vector<ClaimedSession> c = Claim(1);
  ASSERT_EQ(c.size(), 1u);
  store().SaveExecutionState(c[0].id, R"({"job":{},"resolved":{}})", clock_.Now());
  store().SaveCheckpoint({c[0].id, 3, 10, R"({"done":[[0,3]]})"});
  store().SaveCheckpoint({c[0].id, 5, 10, R"({"done":[[0,5]]})"});  // the later one wins
  ASSERT_TRUE(Finish(c[0], SessionOutcome::Target::kRequeue));

  SessionDetail d = Detail(c[0].id);
  ASSERT_TRUE(d.execution.has_value());
  EXPECT_EQ(d.execution->chunks_done, 5);
  EXPECT_EQ(d.execution->chunks_total, 10);
  EXPECT_EQ(d.execution->checkpoint_json, R"({"done":[[0,5]]})");

  ASSERT_NO_FATAL_FAILURE(Reopen());  // also across a restart
  std::vector<ClaimedSession> again = Claim(1);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(again[0].execution);
  EXPECT_EQ(again[0].execution->checkpoint_json, R"({"done":[[0,5]]})");
}

TEST_P(CheckpointAndResultsTest, CheckpointOfASessionThatIsNoLongerRunningIsIgnored) {
  Create(2);
  std::vector<ClaimedSession> c = Claim(1);
  ASSERT_EQ(c.size(), 1u);
  ASSERT_TRUE(Finish(c[0], SessionOutcome::Target::kCompleted));
  store().SaveCheckpoint({c[0].id, 1, 10, R"({"done":[[0,1]]})"});  // late
  // A session never claimed gets no row from a stray checkpoint either.
  store().SaveCheckpoint({c[0].id + 1, 1, 10, R"({"done":[[0,1]]})"});
  ASSERT_TRUE(Claim(1).size() == 1u);  // a write after the checkpoint: it has been applied
  SessionDetail done = Detail(c[0].id);
  ASSERT_TRUE(done.execution.has_value());
  EXPECT_FALSE(done.execution->checkpoint_json.has_value());
  EXPECT_EQ(done.execution->chunks_done, 0);
  EXPECT_EQ(engine().CountRows("session_state"), 1);
}

TEST_P(CheckpointAndResultsTest, ABatchResultFoldsEachCompletedResultOnce) {
  BatchCreated b = Create(4);
  std::vector<ClaimedSession> c = Claim(4);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_FALSE(BatchResult(b.public_id).has_value());
  ASSERT_TRUE(Finish(c[0], SessionOutcome::Target::kCompleted, "1"));
  ASSERT_TRUE(Finish(c[1], SessionOutcome::Target::kCompleted, "2"));
  EXPECT_FALSE(Finish(c[1], SessionOutcome::Target::kCompleted, "2")) << "a duplicate outcome";
  ASSERT_TRUE(Finish(c[2], SessionOutcome::Target::kError));
  ASSERT_TRUE(Finish(c[3], SessionOutcome::Target::kCompleted));  // no result: nothing to fold
  EXPECT_EQ(BatchResult(b.public_id), "[1,2]");
  EXPECT_EQ(*merger_.calls, 2) << "the duplicate never reached the merger";
}

TEST_P(CheckpointAndResultsTest, UnfoldableAndFailingFoldsLeaveTheResultAlone) {
  BatchCreated b = Create(3);
  std::vector<ClaimedSession> c = Claim(3);
  ASSERT_EQ(c.size(), 3u);
  ASSERT_TRUE(Finish(c[0], SessionOutcome::Target::kCompleted, "7"));
  ASSERT_TRUE(Finish(c[1], SessionOutcome::Target::kCompleted, "8", "broken"));
  ASSERT_TRUE(Finish(c[2], SessionOutcome::Target::kCompleted, "9", "unfoldable"));
  EXPECT_EQ(BatchResult(b.public_id), "[7]");
  engine().ExpectCountersEqualRows();
}

BATCHD_FOR_EVERY_STORE(CheckpointAndResultsTest);

}  // namespace
}  // namespace batchd::storage::conformance
