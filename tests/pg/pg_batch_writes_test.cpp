#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "storage/pg/pg_batch_queries.h"
#include "storage/pg/pg_batch_writes.h"
#include "storage/pg/pg_session_copy.h"
#include "tests/pg/pg_data_fixture.h"

namespace batchd::storage::pg {
namespace {

TEST(PgSessionCopyTest, RowsAreIdBatchOrdinalLines) {
  std::string rows = "left over from the last slice";
  BuildSessionCopyRows(rows, 101, 7, 3, 3);
  EXPECT_EQ(rows, "104\t7\t3\n105\t7\t4\n106\t7\t5\n");
  BuildSessionCopyRows(rows, 1, 9, 0, 0);
  EXPECT_EQ(rows, "");
}

TEST_F(PgDataTest, InsertWritesEverySessionInSlicesAndQueuesTheBatch) {
  BatchCreated first = Insert(1000, {.slice_rows = 300, .node_id = 4});
  EXPECT_EQ(first.sessions, 1000u);
  EXPECT_EQ(first.public_id.size(), 16u);
  EXPECT_GE(first.enqueue_ms, 0);
  BatchCreated second = Insert(5, {.slice_rows = 300, .node_id = 4}, "second");
  EXPECT_NE(first.public_id, second.public_id);

  auto b = QueryBatch(*conn_, first.public_id);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->state, BatchState::kQueued);
  EXPECT_EQ(b->first_session_id, 1);
  EXPECT_EQ(b->session_count, 1000u);
  EXPECT_EQ(b->counts, (SessionCounts{.uninitialized = 1000}));
  EXPECT_EQ(b->group_lengths, std::vector<uint64_t>{1000});
  EXPECT_EQ(b->created_at_ms, 1000);
  EXPECT_FALSE(b->finished_at_ms);
  auto b2 = QueryBatch(*conn_, second.public_id);
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->first_session_id, 1001);  // ranges are contiguous and never overlap

  EXPECT_EQ(QueryInt("SELECT count(*) FROM batch WHERE inserted_by IS NOT NULL"), 0);
  EXPECT_EQ(QueryInt("SELECT value FROM meta WHERE key = 'next_session_id'"), 1006);
  // Every ordinal once, at id first_session_id + ordinal.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE batch_id = " + std::to_string(first.id) +
                     " AND id = 1 + ordinal AND state = 0 AND attempts = 0"),
            1000);
  EXPECT_EQ(QueryInt("SELECT count(DISTINCT ordinal) FROM session WHERE batch_id = " +
                     std::to_string(first.id)),
            1000);
  // The trigger's batch.enqueued event, one per batch, waiting for the sequencer.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM event WHERE type = 'batch.enqueued' AND seq IS NULL"),
            2);
  ExpectCountersMatchRows();
}

TEST_F(PgDataTest, TheSpecIsStoredCompressedAndReadBackWhole) {
  NewBatch batch = SimpleBatch(3);
  batch.spec_json = R"({"items":[)";
  for (int i = 0; i < 2000; ++i) batch.spec_json += (i ? "," : "") + std::to_string(i % 10);
  batch.spec_json += "]}";
  batch.max_running = 2;
  batch.priority = -3;
  batch.runs = 3;
  batch.group_lengths = {1};
  auto created = InsertBatch(*conn_, batch, {}, 1);
  ASSERT_TRUE(created.ok()) << created.status().message();
  auto spec = QueryBatchSpec(*conn_, created->id);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(*spec, batch.spec_json);
  EXPECT_LT(QueryInt("SELECT length(spec) FROM batch"),
            static_cast<int64_t>(batch.spec_json.size()) / 4);
  auto b = QueryBatch(*conn_, created->public_id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->max_running, 2);
  EXPECT_EQ(b->priority, -3);
  EXPECT_EQ(b->runs, 3);
  EXPECT_EQ(QueryBatchSpec(*conn_, created->id + 100).status().code(), StatusCode::kNotFound);
}

TEST_F(PgDataTest, AtTheActiveBatchLimitAnInsertWritesNothing) {
  Insert(10, {.max_active_batches = 2});
  Insert(10, {.max_active_batches = 2});
  auto refused = InsertBatch(*conn_, SimpleBatch(10), {.max_active_batches = 2}, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kLimitExceeded);
  EXPECT_NE(refused.status().message().find("2 unfinished batches"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM batch"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session"), 20);
  EXPECT_EQ(QueryInt("SELECT value FROM meta WHERE key = 'next_session_id'"), 21);
  // A finished batch no longer counts.
  auto page = QueryBatches(*conn_, {});
  ASSERT_TRUE(page.ok());
  SetSessionStates(page->items.back().id, 0, 10, SessionState::kCompleted);
  EXPECT_TRUE(InsertBatch(*conn_, SimpleBatch(10), {.max_active_batches = 2}, 1).ok());
  ExpectCountersMatchRows();
}

TEST_F(PgDataTest, InsertsAtOnceCannotBothTakeTheLastPlace) {
  Insert(1, {.max_active_batches = 3});
  // Four nodes insert at once with two places left: exactly two get one.
  std::vector<Status> results(4);
  std::vector<std::thread> nodes;
  for (size_t i = 0; i < results.size(); ++i) {
    nodes.emplace_back([&, i] {
      auto conn = PgConnection::Open(uri_);
      if (!conn.ok()) {
        results[i] = conn.status();
        return;
      }
      auto created =
          InsertBatch(**conn, SimpleBatch(100),
                      {.slice_rows = 10, .max_active_batches = 3, .node_id = int64_t(i)}, 1);
      results[i] = created.ok() ? Status::Ok() : created.status();
    });
  }
  for (auto& t : nodes) t.join();
  int ok = 0;
  for (const Status& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.code(), StatusCode::kLimitExceeded) << s.message();
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM batch"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session"), 201);
  ExpectCountersMatchRows();
}

TEST_F(PgDataTest, AnInsertThatFailsPartWayLeavesNoRows) {
  Insert(4);  // ids 1..4
  // A row squatting on an id of the next batch's second slice makes that slice's COPY fail.
  ASSERT_TRUE(conn_->Run("INSERT INTO session (id, batch_id, ordinal) VALUES (20, 999, 0)").ok());
  auto failed = InsertBatch(*conn_, SimpleBatch(30), {.slice_rows = 10, .node_id = 2}, 1);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kConflict) << failed.status().message();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM batch"), 1);
  // The first slice (ids 5..14) was committed, then removed with the whole reserved range
  // (ids there belong to the batch alone; the squatter was planted there).
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session"), 4);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE id >= 5"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM event WHERE type <> 'batch.enqueued'"), 0);
  // The connection is still usable, and the id range is not reused.
  BatchCreated next = Insert(2);
  auto b = QueryBatch(*conn_, next.public_id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first_session_id, 35);
  ExpectCountersMatchRows();
}

TEST_F(PgDataTest, AnInsertWhoseBatchARescueRemovedMeanwhileFailsAndCleansUp) {
  // A survivor that thought this node dead removes its enqueuing batch while a slice is being
  // written: the insert must not flip a batch that is gone, and removes the rows it wrote.
  auto rescuer = PgConnection::Open(uri_);
  ASSERT_TRUE(rescuer.ok());
  PgTransaction rescue(**rescuer);
  ASSERT_TRUE(rescue.begun().ok());
  // An uncommitted row on an id of the insert's range holds its COPY back (the unique check
  // waits for this transaction).
  ASSERT_TRUE((*rescuer)->Run("INSERT INTO session (id, batch_id, ordinal) VALUES (3, 0, 0)").ok());
  Result<BatchCreated> result = Status::Internal("not run");
  std::thread inserter([&] {
    auto conn = PgConnection::Open(uri_);
    ASSERT_TRUE(conn.ok());
    result = InsertBatch(**conn, SimpleBatch(5), {.node_id = 7}, 1);
  });
  // Wait until the batch row is committed and the COPY waits on the lock.
  for (int i = 0; i < 2000; ++i) {
    if (QueryInt("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                 "datname = current_database()") > 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto removed = RemoveBatchesInsertedBy(**rescuer, 7);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 1);
  ASSERT_TRUE(rescue.Commit().ok());
  inserter.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().message();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM batch"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session"), 0);
}

TEST_F(PgDataTest, RemoveBatchesInsertedByTakesOnlyThatNodesEnqueuingBatches) {
  BatchCreated queued = Insert(3, {.node_id = 7});  // queued: never removed
  ASSERT_TRUE(conn_->Run("UPDATE meta SET value = 100 WHERE key = 'next_session_id'").ok());
  auto half = [&](const std::string& id, int64_t node, int64_t first) {
    ASSERT_TRUE(
        conn_
            ->Run("INSERT INTO batch (public_id, name, priority, runs, max_attempts, spec, shape, "
                  "session_count, first_session_id, state, created_at, inserted_by) VALUES "
                  "($1, 'h', 0, 1, 3, '\\x00', '5', 5, $2, 'enqueuing', 1, $3)",
                  {PgParam::Text(id), PgParam::Int(first), PgParam::Int(node)})
            .ok());
    ASSERT_TRUE(conn_
                    ->Run("INSERT INTO session (id, batch_id, ordinal) SELECT $1 + g, "
                          "(SELECT id FROM batch WHERE public_id = $2), g "
                          "FROM generate_series(0, 2) g",
                          {PgParam::Int(first), PgParam::Text(id)})
                    .ok());
  };
  half("mine1", 7, 10);
  half("mine2", 7, 20);
  half("theirs", 8, 30);
  const int64_t events_before = QueryInt("SELECT count(*) FROM event");

  PgTransaction txn(*conn_);
  ASSERT_TRUE(txn.begun().ok());
  auto removed = RemoveBatchesInsertedBy(*conn_, 7);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, 2);
  ASSERT_TRUE(txn.Commit().ok());

  EXPECT_EQ(QueryInt("SELECT count(*) FROM batch WHERE public_id IN ('mine1', 'mine2')"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE id >= 10 AND id < 30"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE id >= 30"), 3);
  EXPECT_TRUE(QueryBatch(*conn_, queued.public_id).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM session WHERE id < 10"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM event"), events_before);  // no batch.deleted

  // Nothing left of node 7: nothing to do.
  auto again = RemoveBatchesInsertedBy(*conn_, 7);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}


}  // namespace
}  // namespace batchd::storage::pg
