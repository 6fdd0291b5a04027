// Batches and sessions through the Store (was tests/unit/storage/sqlite_store_test.cpp): a
// created batch, sliced inserts, id ranges, listings and their pages, details, restarts, the
// removal of a cut-off insert at open, and a closed store's answer.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <numeric>

#include "tests/conformance/conformance_fixture.h"

namespace batchd::storage::conformance {
namespace {

using storage::testing::Await;
using storage::testing::MakeBatch;

class BatchStoreTest : public StoreConformanceTest {};

TEST_P(BatchStoreTest, CreatedBatchIsQueuedWithContiguousSessions) {
  ASSERT_NO_FATAL_FAILURE(Open());
  BatchCreated created = Create(MakeBatch(10));
  EXPECT_EQ(created.sessions, 10u);
  EXPECT_EQ(created.public_id.size(), 16u);

  Result<BatchRecord> batch =
      Await<BatchRecord>([&](auto cb) { store().GetBatch(created.public_id, cb); });
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->state, BatchState::kQueued);
  EXPECT_EQ(batch->counts.uninitialized, 10);
  EXPECT_EQ(batch->counts.Total(), 10);
  EXPECT_EQ(batch->group_lengths, std::vector<uint64_t>{10});

  int64_t expected_ordinal = 0;
  for (const SessionRow& row : engine().Sessions()) {
    EXPECT_EQ(row.id, batch->first_session_id + expected_ordinal);
    EXPECT_EQ(row.ordinal, expected_ordinal);
    EXPECT_EQ(row.state, 0);
    EXPECT_EQ(row.attempts, 0);
    ++expected_ordinal;
  }
  EXPECT_EQ(expected_ordinal, 10);
  engine().ExpectCountersEqualRows();
}

TEST_P(BatchStoreTest, SlicedInsertWritesEverySessionAndLetsOtherWritesThrough) {
  ASSERT_NO_FATAL_FAILURE(Open({.insert_slice_rows = 3}));
  std::mutex mu;
  std::vector<std::string> finished;  // names in completion order
  std::promise<void> both;
  int remaining = 2;
  auto record = [&](std::string name) {
    return [&, name](Result<BatchCreated> r) {
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      bool last = false;
      {
        std::lock_guard lock(mu);
        finished.push_back(name);
        last = --remaining == 0;
      }
      // Not under the lock: the test returns, destroying `mu`, as soon as `both` is set.
      if (last) both.set_value();
    };
  };
  store().CreateBatch(MakeBatch(3000), record("big"));  // 1000 slices
  store().CreateBatch(MakeBatch(2), record("small"));   // one slice
  both.get_future().wait();

  // The small batch never waits behind more than one slice of the big one.
  EXPECT_EQ(finished, (std::vector<std::string>{"small", "big"}));
  EXPECT_EQ(engine().CountRows("session"), 3002);
  engine().ExpectCountersEqualRows();
}

TEST_P(BatchStoreTest, SessionIdRangesNeverOverlapAcrossBatches) {
  ASSERT_NO_FATAL_FAILURE(Open({.insert_slice_rows = 4}));
  std::vector<BatchCreated> created;
  for (uint64_t n : {5, 9, 1, 13}) created.push_back(Create(MakeBatch(n)));
  int64_t next = 1;
  for (const BatchCreated& c : created) {
    Result<BatchRecord> b = Await<BatchRecord>([&](auto cb) { store().GetBatch(c.public_id, cb); });
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->first_session_id, next);
    next += static_cast<int64_t>(b->session_count);
  }
  EXPECT_EQ(engine().Meta("next_session_id"), next);
}

TEST_P(BatchStoreTest, BatchesListNewestFirstWithKeysetPagesAndStateFilter) {
  ASSERT_NO_FATAL_FAILURE(Open());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Create(MakeBatch(1)).public_id);

  std::vector<std::string> seen;
  std::optional<int64_t> cursor;
  do {
    Result<Page<BatchRecord>> page = Await<Page<BatchRecord>>(
        [&](auto cb) { store().ListBatches({.before_id = cursor, .limit = 2}, cb); });
    ASSERT_TRUE(page.ok());
    EXPECT_LE(page->items.size(), 2u);
    for (const BatchRecord& b : page->items) seen.push_back(b.public_id);
    cursor = page->next_cursor;
  } while (cursor);
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));

  Result<Page<BatchRecord>> queued = Await<Page<BatchRecord>>(
      [&](auto cb) { store().ListBatches({.state = BatchState::kQueued, .limit = 10}, cb); });
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->items.size(), 5u);
  Result<Page<BatchRecord>> done = Await<Page<BatchRecord>>(
      [&](auto cb) { store().ListBatches({.state = BatchState::kCompleted, .limit = 10}, cb); });
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->items.empty());
  EXPECT_FALSE(done->next_cursor);
}

TEST_P(BatchStoreTest, SessionsPageToTheEndInOrdinalOrder) {
  ASSERT_NO_FATAL_FAILURE(Open());
  Create(MakeBatch(4));  // another batch's sessions must not leak into the listing
  BatchCreated c = Create(MakeBatch(23));
  Create(MakeBatch(3));

  std::vector<uint64_t> ordinals;
  std::optional<int64_t> cursor;
  do {
    Result<Page<SessionRecord>> page = Await<Page<SessionRecord>>([&](auto cb) {
      store().ListSessions({.batch_public_id = c.public_id, .after_id = cursor, .limit = 5}, cb);
    });
    ASSERT_TRUE(page.ok());
    for (const SessionRecord& s : page->items) {
      EXPECT_EQ(s.batch_public_id, c.public_id);
      ordinals.push_back(s.ordinal);
    }
    cursor = page->next_cursor;
  } while (cursor);
  std::vector<uint64_t> expected(23);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(ordinals, expected);

  Result<Page<SessionRecord>> none = Await<Page<SessionRecord>>([&](auto cb) {
    store().ListSessions(
        {.batch_public_id = c.public_id, .state = SessionState::kCompleted, .limit = 5}, cb);
  });
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());

  Result<Page<SessionRecord>> missing = Await<Page<SessionRecord>>(
      [&](auto cb) { store().ListSessions({.batch_public_id = "nope", .limit = 5}, cb); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_P(BatchStoreTest, SessionDetailCarriesItsBatchAndSpec) {
  ASSERT_NO_FATAL_FAILURE(Open());
  NewBatch nb = MakeBatch(3);
  const std::string spec = nb.spec_json;
  BatchCreated c = Create(std::move(nb));
  Result<BatchRecord> b = Await<BatchRecord>([&](auto cb) { store().GetBatch(c.public_id, cb); });
  ASSERT_TRUE(b.ok());

  Result<SessionDetail> d =
      Await<SessionDetail>([&](auto cb) { store().GetSession(b->first_session_id + 2, cb); });
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->session.ordinal, 2u);
  EXPECT_EQ(d->batch.public_id, c.public_id);
  EXPECT_EQ(d->spec_json, spec);

  Result<SessionDetail> missing =
      Await<SessionDetail>([&](auto cb) { store().GetSession(999999, cb); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Result<BatchRecord> no_batch =
      Await<BatchRecord>([&](auto cb) { store().GetBatch("0000000000000000", cb); });
  EXPECT_EQ(no_batch.status().code(), StatusCode::kNotFound);
}

TEST_P(BatchStoreTest, EverythingSurvivesAReopen) {
  ASSERT_NO_FATAL_FAILURE(Open({.insert_slice_rows = 7}));
  BatchCreated a = Create(MakeBatch(50));
  BatchCreated b = Create(MakeBatch(8));

  ASSERT_NO_FATAL_FAILURE(Open());
  for (const BatchCreated& c : {a, b}) {
    Result<BatchRecord> r = Await<BatchRecord>([&](auto cb) { store().GetBatch(c.public_id, cb); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->state, BatchState::kQueued);
    EXPECT_EQ(r->counts.uninitialized, static_cast<int64_t>(c.sessions));
  }
  BatchCreated after = Create(MakeBatch(2));  // ids continue past the old ranges
  Result<BatchRecord> r =
      Await<BatchRecord>([&](auto cb) { store().GetBatch(after.public_id, cb); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_session_id, 59);
  engine().ExpectCountersEqualRows();
}

// What a crash between two slices leaves behind: an `enqueuing` batch with some of its
// sessions. The next open must remove exactly that batch and its rows.
TEST_P(BatchStoreTest, OpenRemovesABatchWhoseInsertWasCutOff) {
  ASSERT_NO_FATAL_FAILURE(Open());
  BatchCreated kept = Create(MakeBatch(4));
  engine().Close();
  engine().PlantCutOffInsert({.public_id = "halfhalfhalfhalf",
                              .first_session_id = 5,
                              .session_count = 100,
                              .written = 40});
  ASSERT_EQ(engine().CountRows("session"), 44);

  ASSERT_NO_FATAL_FAILURE(Reopen());

  EXPECT_EQ(engine().CountRows("batch"), 1);
  EXPECT_EQ(engine().CountRows("session"), 4);
  Result<BatchRecord> r =
      Await<BatchRecord>([&](auto cb) { store().GetBatch(kept.public_id, cb); });
  EXPECT_TRUE(r.ok());
  Result<BatchRecord> cut =
      Await<BatchRecord>([&](auto cb) { store().GetBatch("halfhalfhalfhalf", cb); });
  EXPECT_EQ(cut.status().code(), StatusCode::kNotFound);
  engine().ExpectCountersEqualRows();
}

TEST_P(BatchStoreTest, ClosedStoreAnswersUnavailable) {
  ASSERT_NO_FATAL_FAILURE(Open());
  store().Close();
  Result<BatchCreated> r =
      Await<BatchCreated>([&](auto cb) { store().CreateBatch(MakeBatch(1), cb); });
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  Result<Page<BatchRecord>> q =
      Await<Page<BatchRecord>>([&](auto cb) { store().ListBatches({}, cb); });
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable);
}

BATCHD_FOR_EVERY_STORE(BatchStoreTest);

}  // namespace
}  // namespace batchd::storage::conformance
