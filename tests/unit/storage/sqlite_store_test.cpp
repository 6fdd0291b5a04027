#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <mutex>
#include <numeric>

#include "storage/json_blob.h"
#include "storage/store.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

using testing::Await;
using testing::CountRows;
using testing::ExpectCountersEqualRows;
using testing::MakeBatch;
using testing::TempDir;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void Open(uint64_t slice_rows = 65536) {
    Result<std::unique_ptr<Store>> s =
        OpenSqliteStore({.db_path = db_path(), .insert_slice_rows = slice_rows});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  std::filesystem::path db_path() const { return dir_.path() / "batchd.db"; }

  BatchCreated Create(NewBatch batch) {
    Result<BatchCreated> r =
        Await<BatchCreated>([&](auto cb) { store_->CreateBatch(std::move(batch), cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BatchCreated{};
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, CreatedBatchIsQueuedWithContiguousSessions) {
  Open();
  BatchCreated created = Create(MakeBatch(10));
  EXPECT_EQ(created.sessions, 10u);
  EXPECT_EQ(created.public_id.size(), 16u);

  Result<BatchRecord> batch =
      Await<BatchRecord>([&](auto cb) { store_->GetBatch(created.public_id, cb); });
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->state, BatchState::kQueued);
  EXPECT_EQ(batch->counts.uninitialized, 10);
  EXPECT_EQ(batch->counts.Total(), 10);
  EXPECT_EQ(batch->group_lengths, std::vector<uint64_t>{10});

  SQLite::Database db(db_path().string(), SQLite::OPEN_READONLY);
  SQLite::Statement rows(db, "SELECT id, ordinal, state, attempts FROM session ORDER BY id");
  int64_t expected_ordinal = 0;
  while (rows.executeStep()) {
    EXPECT_EQ(rows.getColumn(0).getInt64(), batch->first_session_id + expected_ordinal);
    EXPECT_EQ(rows.getColumn(1).getInt64(), expected_ordinal);
    EXPECT_EQ(rows.getColumn(2).getInt(), 0);
    EXPECT_EQ(rows.getColumn(3).getInt(), 0);
    ++expected_ordinal;
  }
  EXPECT_EQ(expected_ordinal, 10);
  ExpectCountersEqualRows(db_path());
}

TEST_F(SqliteStoreTest, SlicedInsertWritesEverySessionAndLetsOtherWritesThrough) {
  Open(/*slice_rows=*/3);
  std::mutex mu;
  std::vector<std::string> finished;  // names in completion order
  std::promise<void> both;
  int remaining = 2;
  auto record = [&](std::string name) {
    return [&, name](Result<BatchCreated> r) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
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
  store_->CreateBatch(MakeBatch(3000), record("big"));  // 1000 slices
  store_->CreateBatch(MakeBatch(2), record("small"));   // one slice
  both.get_future().wait();

  // The small batch never waits behind more than one slice of the big one.
  EXPECT_EQ(finished, (std::vector<std::string>{"small", "big"}));
  EXPECT_EQ(CountRows(db_path(), "session"), 3002);
  ExpectCountersEqualRows(db_path());
}

TEST_F(SqliteStoreTest, SessionIdRangesNeverOverlapAcrossBatches) {
  Open(/*slice_rows=*/4);
  std::vector<BatchCreated> created;
  for (uint64_t n : {5, 9, 1, 13}) created.push_back(Create(MakeBatch(n)));
  int64_t next = 1;
  for (const BatchCreated& c : created) {
    Result<BatchRecord> b = Await<BatchRecord>([&](auto cb) { store_->GetBatch(c.public_id, cb); });
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->first_session_id, next);
    next += static_cast<int64_t>(b->session_count);
  }
  SQLite::Database db(db_path().string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'next_session_id'").getInt64(), next);
}

TEST_F(SqliteStoreTest, BatchesListNewestFirstWithKeysetPagesAndStateFilter) {
  Open();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Create(MakeBatch(1)).public_id);

  std::vector<std::string> seen;
  std::optional<int64_t> cursor;
  do {
    Result<Page<BatchRecord>> page = Await<Page<BatchRecord>>(
        [&](auto cb) { store_->ListBatches({.before_id = cursor, .limit = 2}, cb); });
    ASSERT_TRUE(page.ok());
    EXPECT_LE(page->items.size(), 2u);
    for (const BatchRecord& b : page->items) seen.push_back(b.public_id);
    cursor = page->next_cursor;
  } while (cursor);
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));

  Result<Page<BatchRecord>> queued = Await<Page<BatchRecord>>(
      [&](auto cb) { store_->ListBatches({.state = BatchState::kQueued, .limit = 10}, cb); });
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->items.size(), 5u);
  Result<Page<BatchRecord>> done = Await<Page<BatchRecord>>(
      [&](auto cb) { store_->ListBatches({.state = BatchState::kCompleted, .limit = 10}, cb); });
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->items.empty());
  EXPECT_FALSE(done->next_cursor);
}

TEST_F(SqliteStoreTest, SessionsPageToTheEndInOrdinalOrder) {
  Open();
  Create(MakeBatch(4));  // another batch's sessions must not leak into the listing
  BatchCreated c = Create(MakeBatch(23));
  Create(MakeBatch(3));

  std::vector<uint64_t> ordinals;
  std::optional<int64_t> cursor;
  do {
    Result<Page<SessionRecord>> page = Await<Page<SessionRecord>>([&](auto cb) {
      store_->ListSessions({.batch_public_id = c.public_id, .after_id = cursor, .limit = 5}, cb);
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
    store_->ListSessions(
        {.batch_public_id = c.public_id, .state = SessionState::kCompleted, .limit = 5}, cb);
  });
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());

  Result<Page<SessionRecord>> missing = Await<Page<SessionRecord>>(
      [&](auto cb) { store_->ListSessions({.batch_public_id = "nope", .limit = 5}, cb); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, SessionDetailCarriesItsBatchAndSpec) {
  Open();
  NewBatch nb = MakeBatch(3);
  const std::string spec = nb.spec_json;
  BatchCreated c = Create(std::move(nb));
  Result<BatchRecord> b = Await<BatchRecord>([&](auto cb) { store_->GetBatch(c.public_id, cb); });
  ASSERT_TRUE(b.ok());

  Result<SessionDetail> d =
      Await<SessionDetail>([&](auto cb) { store_->GetSession(b->first_session_id + 2, cb); });
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->session.ordinal, 2u);
  EXPECT_EQ(d->batch.public_id, c.public_id);
  EXPECT_EQ(d->spec_json, spec);

  Result<SessionDetail> missing =
      Await<SessionDetail>([&](auto cb) { store_->GetSession(999999, cb); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Result<BatchRecord> no_batch =
      Await<BatchRecord>([&](auto cb) { store_->GetBatch("0000000000000000", cb); });
  EXPECT_EQ(no_batch.status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, EverythingSurvivesAReopen) {
  Open(/*slice_rows=*/7);
  BatchCreated a = Create(MakeBatch(50));
  BatchCreated b = Create(MakeBatch(8));
  store_->Close();
  store_.reset();

  Open();
  for (const BatchCreated& c : {a, b}) {
    Result<BatchRecord> r = Await<BatchRecord>([&](auto cb) { store_->GetBatch(c.public_id, cb); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->state, BatchState::kQueued);
    EXPECT_EQ(r->counts.uninitialized, static_cast<int64_t>(c.sessions));
  }
  BatchCreated after = Create(MakeBatch(2));  // ids continue past the old ranges
  Result<BatchRecord> r =
      Await<BatchRecord>([&](auto cb) { store_->GetBatch(after.public_id, cb); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_session_id, 59);
  ExpectCountersEqualRows(db_path());
}

// What a crash between two slices leaves behind: an `enqueuing` batch with some of its
// sessions. The next open must remove exactly that batch and its rows.
TEST_F(SqliteStoreTest, OpenRemovesABatchWhoseInsertWasCutOff) {
  Open();
  BatchCreated kept = Create(MakeBatch(4));
  store_->Close();
  store_.reset();
  {
    SQLite::Database db(db_path().string(), SQLite::OPEN_READWRITE);
    const std::string spec = CompressJson("{}");
    SQLite::Statement b(db,
                        "INSERT INTO batch (public_id, name, priority, runs, max_attempts, spec, "
                        "shape, session_count, first_session_id, state, n_uninitialized, "
                        "created_at) VALUES ('halfhalfhalfhalf', 'cut', 0, 1, 3, ?, '100', 100, "
                        "5, 'enqueuing', 40, 0)");
    b.bind(1, spec.data(), static_cast<int>(spec.size()));
    b.exec();
    const int64_t id = db.getLastInsertRowid();
    for (int i = 0; i < 40; ++i) {
      db.exec("INSERT INTO session (id, batch_id, ordinal) VALUES (" + std::to_string(5 + i) +
              ", " + std::to_string(id) + ", " + std::to_string(i) + ")");
    }
    db.exec("UPDATE meta SET value = 105 WHERE key = 'next_session_id'");
  }
  ASSERT_EQ(CountRows(db_path(), "session"), 44);

  Open();

  EXPECT_EQ(CountRows(db_path(), "batch"), 1);
  EXPECT_EQ(CountRows(db_path(), "session"), 4);
  Result<BatchRecord> r =
      Await<BatchRecord>([&](auto cb) { store_->GetBatch(kept.public_id, cb); });
  EXPECT_TRUE(r.ok());
  Result<BatchRecord> cut =
      Await<BatchRecord>([&](auto cb) { store_->GetBatch("halfhalfhalfhalf", cb); });
  EXPECT_EQ(cut.status().code(), StatusCode::kNotFound);
  ExpectCountersEqualRows(db_path());
}

TEST_F(SqliteStoreTest, ClosedStoreAnswersUnavailable) {
  Open();
  store_->Close();
  Result<BatchCreated> r =
      Await<BatchCreated>([&](auto cb) { store_->CreateBatch(MakeBatch(1), cb); });
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  Result<Page<BatchRecord>> q =
      Await<Page<BatchRecord>>([&](auto cb) { store_->ListBatches({}, cb); });
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace batchd::storage
