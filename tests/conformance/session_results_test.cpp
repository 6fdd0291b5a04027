// Store::ListSessionResults, the pager behind the results export: keyset pages in id order that
// cover a batch's sessions exactly once, never cross into the next batch, carry each dequeued
// session's result and error (and nothing for the others), and end early, with a cursor, once
// the results' text passes max_bytes (was tests/unit/storage/session_results_test.cpp).
#include <gtest/gtest.h>

#include <set>

#include "tests/conformance/conformance_fixture.h"

namespace batchd::storage::conformance {
namespace {

using storage::testing::Await;
using storage::testing::MakeBatch;

class SessionResultsTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    StoreConformanceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Open());
  }

  BatchCreated Create(uint64_t n) { return StoreConformanceTest::Create(MakeBatch(n)); }

  Result<storage::Page<SessionResultRow>> ReadPage(SessionResultsQuery q) {
    return Await<storage::Page<SessionResultRow>>(
        [&](auto cb) { store().ListSessionResults(q, cb); });
  }

  // Every row of the batch, page by page; the page sizes in `sizes`.
  std::vector<SessionResultRow> All(const std::string& id, int limit, size_t max_bytes,
                                    std::vector<size_t>* sizes) {
    std::vector<SessionResultRow> out;
    std::optional<int64_t> cursor;
    for (int pages = 0; pages < 10000; ++pages) {
      Result<storage::Page<SessionResultRow>> p = ReadPage(
          {.batch_public_id = id, .after_id = cursor, .limit = limit, .max_bytes = max_bytes});
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (!p.ok()) break;
      sizes->push_back(p->items.size());
      out.insert(out.end(), p->items.begin(), p->items.end());
      if (!p->next_cursor) break;
      EXPECT_FALSE(p->items.empty()) << "a page with a cursor holds a row";
      if (p->items.empty()) break;
      EXPECT_EQ(*p->next_cursor, p->items.back().id);
      cursor = p->next_cursor;
    }
    return out;
  }

  void Finish(const ClaimedSession& c, SessionOutcome::Target target,
              std::optional<std::string> result, std::string kind = "", std::string message = "") {
    SessionOutcome o{.session_id = c.id, .batch_id = c.batch_id, .target = target};
    o.result_json = std::move(result);
    o.error_kind = std::move(kind);
    o.error_message = std::move(message);
    Result<bool> r = Await<bool>([&](auto cb) { store().FinishSession(o, cb); });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
};

TEST_P(SessionResultsTest, PagesCoverTheBatchOnceInOrderAndStopAtItsEnd) {
  const BatchCreated before = Create(3);  // neighbours: their rows must never show up
  const BatchCreated b = Create(2501);
  const BatchCreated after = Create(4);
  std::vector<size_t> sizes;
  const std::vector<SessionResultRow> rows = All(b.public_id, 1000, SIZE_MAX, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{1000, 1000, 501}));
  ASSERT_EQ(rows.size(), 2501u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].ordinal, i);
    if (i > 0) {
      EXPECT_EQ(rows[i].id, rows[i - 1].id + 1);
    }
    EXPECT_EQ(rows[i].state, SessionState::kUninitialized);
    EXPECT_FALSE(rows[i].result_json || rows[i].error_kind || rows[i].error_message);
  }
  // An exact multiple of the page ends on a full page without a cursor, not an empty one.
  sizes.clear();
  EXPECT_EQ(All(after.public_id, 2, SIZE_MAX, &sizes).size(), 4u);
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2}));
  sizes.clear();
  EXPECT_EQ(All(before.public_id, 1000, SIZE_MAX, &sizes).size(), 3u);
}

TEST_P(SessionResultsTest, RowsCarryResultsAndErrorsOfDequeuedSessionsOnly) {
  const BatchCreated b = Create(4);
  Result<ClaimResult> claim = Await<ClaimResult>([&](auto cb) { store().ClaimSessions(3, 0, cb); });
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  ASSERT_EQ(claim->sessions.size(), 3u);
  for (const ClaimedSession& c : claim->sessions) store().SaveExecutionState(c.id, "{}", 0);
  ASSERT_NO_FATAL_FAILURE(
      Finish(claim->sessions[0], SessionOutcome::Target::kCompleted, R"({"sum":1.5})"));
  ASSERT_NO_FATAL_FAILURE(Finish(claim->sessions[1], SessionOutcome::Target::kError, std::nullopt,
                                 "permanent", "chunk 0.1: bad, \"quoted\"\nline"));
  std::vector<size_t> sizes;
  const std::vector<SessionResultRow> rows = All(b.public_id, 1000, SIZE_MAX, &sizes);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].state, SessionState::kCompleted);
  EXPECT_EQ(rows[0].result_json, R"({"sum":1.5})");
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_FALSE(rows[0].error_kind);
  EXPECT_EQ(rows[1].state, SessionState::kError);
  EXPECT_EQ(rows[1].error_kind, "permanent");
  EXPECT_EQ(rows[1].error_message, "chunk 0.1: bad, \"quoted\"\nline");
  EXPECT_FALSE(rows[1].result_json);
  EXPECT_EQ(rows[2].state, SessionState::kInProgress);
  EXPECT_FALSE(rows[2].result_json || rows[2].error_kind);
  EXPECT_EQ(rows[3].state, SessionState::kUninitialized);
  EXPECT_EQ(rows[3].attempts, 0);
}

TEST_P(SessionResultsTest, LargeResultsEndAPageEarlyButEachPageHoldsARow) {
  const BatchCreated b = Create(5);
  Result<ClaimResult> claim = Await<ClaimResult>([&](auto cb) { store().ClaimSessions(5, 0, cb); });
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  ASSERT_EQ(claim->sessions.size(), 5u);
  const std::string big = "\"" + std::string(1000, 'x') + "\"";  // 1002 bytes each
  for (const ClaimedSession& c : claim->sessions) {
    store().SaveExecutionState(c.id, "{}", 0);
    ASSERT_NO_FATAL_FAILURE(Finish(c, SessionOutcome::Target::kCompleted, big));
  }
  std::vector<size_t> sizes;
  const std::vector<SessionResultRow> rows = All(b.public_id, 1000, 2500, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
  ASSERT_EQ(rows.size(), 5u);
  std::set<int64_t> ids;
  for (const SessionResultRow& r : rows) ids.insert(r.id);
  EXPECT_EQ(ids.size(), 5u);
  sizes.clear();
  EXPECT_EQ(All(b.public_id, 1000, 10, &sizes).size(), 5u);  // smaller than one row
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 1, 1}));
}

TEST_P(SessionResultsTest, AMissingBatchIsNotFound) {
  Create(2);
  Result<storage::Page<SessionResultRow>> p = ReadPage({.batch_public_id = "00000000000000ff"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
}

BATCHD_FOR_EVERY_STORE(SessionResultsTest);

}  // namespace
}  // namespace batchd::storage::conformance
