#include <gtest/gtest.h>

#include "storage/json_blob.h"
#include "storage/pg/pg_batch_queries.h"
#include "tests/pg/pg_data_fixture.h"

namespace batchd::storage::pg {
namespace {

TEST_F(PgDataTest, BatchesAreListedNewestFirstInPages) {
  std::vector<BatchCreated> created;
  for (int i = 0; i < 5; ++i) created.push_back(Insert(2, {}, "batch" + std::to_string(i)));
  auto first = QueryBatches(*conn_, {.limit = 2});
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].public_id, created[4].public_id);
  EXPECT_EQ(first->items[1].public_id, created[3].public_id);
  ASSERT_TRUE(first->next_cursor);
  auto second = QueryBatches(*conn_, {.before_id = first->next_cursor, .limit = 2});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 2u);
  EXPECT_EQ(second->items[0].public_id, created[2].public_id);
  auto last = QueryBatches(*conn_, {.before_id = second->next_cursor, .limit = 2});
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->items.size(), 1u);
  EXPECT_FALSE(last->next_cursor);

  SetSessionStates(created[1].id, 0, 2, SessionState::kCompleted);
  auto completed = QueryBatches(*conn_, {.state = BatchState::kCompleted});
  ASSERT_TRUE(completed.ok());
  ASSERT_EQ(completed->items.size(), 1u);
  EXPECT_EQ(completed->items[0].public_id, created[1].public_id);
  EXPECT_EQ(completed->items[0].counts.completed, 2);
  EXPECT_FALSE(completed->next_cursor);
}

TEST_F(PgDataTest, ABatchPageIsCutAtMaxBytesButHoldsAtLeastOneBatch) {
  Insert(1, {}, std::string(100, 'a'));
  Insert(1, {}, std::string(100, 'b'));
  Insert(1, {}, std::string(100, 'c'));
  auto tiny = QueryBatches(*conn_, {.max_bytes = 10});
  ASSERT_TRUE(tiny.ok());
  ASSERT_EQ(tiny->items.size(), 1u);
  EXPECT_EQ(tiny->next_cursor, tiny->items[0].id);
  auto two = QueryBatches(*conn_, {.max_bytes = 2 * (100 + 16)});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->items.size(), 2u);
  EXPECT_TRUE(two->next_cursor);
}

TEST_F(PgDataTest, AMissingBatchIsNotFoundEverywhere) {
  EXPECT_EQ(QueryBatch(*conn_, "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(QuerySessions(*conn_, {.batch_public_id = "nope"}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(QuerySessionResults(*conn_, {.batch_public_id = "nope"}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(QuerySession(*conn_, 1).status().code(), StatusCode::kNotFound);
  // The connection is still usable after the read snapshots that failed.
  EXPECT_TRUE(QueryQueueStatus(*conn_).ok());
}

TEST_F(PgDataTest, SessionsAreListedInIdOrderInPagesAndByState) {
  Insert(3, {}, "before");  // another batch's ids come first: not listed
  BatchCreated b = Insert(10);
  Insert(3, {}, "after");
  SetSessionStates(b.id, 2, 3, SessionState::kError);
  auto page = QuerySessions(*conn_, {.batch_public_id = b.public_id, .limit = 4});
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->items.size(), 4u);
  EXPECT_EQ(page->items[0].id, 4);
  EXPECT_EQ(page->items[0].ordinal, 0u);
  EXPECT_EQ(page->items[0].batch_public_id, b.public_id);
  EXPECT_EQ(page->items[2].state, SessionState::kError);
  EXPECT_EQ(page->items[2].attempts, 1);
  EXPECT_EQ(page->next_cursor, 7);
  std::vector<int64_t> ids;
  std::optional<int64_t> cursor = page->next_cursor;
  while (cursor) {
    auto next =
        QuerySessions(*conn_, {.batch_public_id = b.public_id, .after_id = cursor, .limit = 4});
    ASSERT_TRUE(next.ok());
    for (const auto& s : next->items) ids.push_back(s.id);
    cursor = next->next_cursor;
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{8, 9, 10, 11, 12, 13}));
  auto errors = QuerySessions(
      *conn_, {.batch_public_id = b.public_id, .state = SessionState::kError, .limit = 2});
  ASSERT_TRUE(errors.ok());
  ASSERT_EQ(errors->items.size(), 2u);
  EXPECT_EQ(errors->items[0].ordinal, 2u);
  EXPECT_EQ(errors->next_cursor, 7);
}

TEST_F(PgDataTest, ASessionComesWithItsBatchSpecAndExecution) {
  BatchCreated b = Insert(3);
  auto fresh = QuerySession(*conn_, 2);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ(fresh->session.id, 2);
  EXPECT_EQ(fresh->session.ordinal, 1u);
  EXPECT_EQ(fresh->session.batch_id, b.id);
  EXPECT_EQ(fresh->batch.public_id, b.public_id);
  EXPECT_EQ(fresh->spec_json, SimpleBatch(3).spec_json);
  EXPECT_FALSE(fresh->execution);

  ASSERT_TRUE(conn_
                  ->Run("INSERT INTO session_state (session_id, state, chunks_done, chunks_total, "
                        "result, error_kind, error_message, checkpoint) "
                        "VALUES (2, $1, 3, 8, '{\"r\":1}', 'transient', 'oops', '{\"c\":3}')",
                        {PgParam::Bytes(CompressJson(R"({"x":42})"))})
                  .ok());
  auto ran = QuerySession(*conn_, 2);
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  ASSERT_TRUE(ran->execution);
  EXPECT_EQ(ran->execution->state_json, R"({"x":42})");
  EXPECT_EQ(ran->execution->chunks_done, 3);
  EXPECT_EQ(ran->execution->chunks_total, 8);
  EXPECT_EQ(ran->execution->result_json, R"({"r":1})");
  EXPECT_EQ(ran->execution->error_kind, "transient");
  EXPECT_EQ(ran->execution->error_message, "oops");
  EXPECT_EQ(ran->execution->checkpoint_json, R"({"c":3})");

  // A corrupt blob is an error, not a crash.
  ASSERT_TRUE(conn_->Run("UPDATE session_state SET state = '\\x0102'").ok());
  EXPECT_EQ(QuerySession(*conn_, 2).status().code(), StatusCode::kIoError);
  EXPECT_EQ(QuerySession(*conn_, 99).status().code(), StatusCode::kNotFound);
}

TEST_F(PgDataTest, ASessionOfABatchStillEnqueuingIsNotFound) {
  Insert(2);
  ASSERT_TRUE(conn_->Run("UPDATE batch SET state = 'enqueuing'").ok());
  auto s = QuerySession(*conn_, 1);
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("no session with id 1"), std::string::npos);
}

TEST_F(PgDataTest, SessionResultsArePagedByCountAndBytes) {
  BatchCreated b = Insert(5);
  SetSessionStates(b.id, 0, 2, SessionState::kCompleted);
  ASSERT_TRUE(conn_
                  ->Run("INSERT INTO session_state (session_id, result) VALUES "
                        "(1, $1), (2, $1)",
                        {PgParam::Text(std::string(50, 'r'))})
                  .ok());
  ASSERT_TRUE(conn_
                  ->Run("INSERT INTO session_state (session_id, error_kind, error_message) "
                        "VALUES (3, 'permanent', 'bad')")
                  .ok());
  auto all = QuerySessionResults(*conn_, {.batch_public_id = b.public_id});
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->items.size(), 5u);
  EXPECT_FALSE(all->next_cursor);
  EXPECT_EQ(all->items[0].result_json, std::string(50, 'r'));
  EXPECT_EQ(all->items[0].state, SessionState::kCompleted);
  EXPECT_EQ(all->items[2].error_kind, "permanent");
  EXPECT_EQ(all->items[2].error_message, "bad");
  EXPECT_FALSE(all->items[4].result_json);  // never dequeued: still a line

  auto cut = QuerySessionResults(*conn_, {.batch_public_id = b.public_id, .max_bytes = 60});
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->items.size(), 1u);
  EXPECT_EQ(cut->next_cursor, 1);
  auto rest = QuerySessionResults(
      *conn_, {.batch_public_id = b.public_id, .after_id = 1, .limit = 2, .max_bytes = 60});
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 2u);  // 50 + 3 bytes fit
  EXPECT_EQ(rest->items[0].id, 2);
  EXPECT_EQ(rest->next_cursor, 3);
}

TEST_F(PgDataTest, EventSeqIsTheHighestSequencedSeq) {
  BatchCreated b = Insert(1);
  auto none = QueryBatch(*conn_, b.public_id);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->event_seq, 0);  // the batch.enqueued row is not sequenced yet
  ASSERT_TRUE(conn_->Run("UPDATE event SET seq = 41").ok());
  ASSERT_TRUE(conn_->Run("INSERT INTO event (time, type, batch) VALUES (1, 'batch.state', 'x')")
                  .ok());  // unsequenced: not counted
  auto some = QueryBatch(*conn_, b.public_id);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->event_seq, 41);
  auto listed = QueryBatches(*conn_, {});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.at(0).event_seq, 41);
  auto session = QuerySession(*conn_, 1);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->batch.event_seq, 41);
}

TEST_F(PgDataTest, QueueStatusSumsTheCountersOfStoredBatches) {
  BatchCreated a = Insert(4);
  Insert(6);
  SetSessionStates(a.id, 0, 4, SessionState::kCompleted);
  Insert(2);
  ASSERT_TRUE(conn_->Run("UPDATE batch SET state = 'enqueuing' WHERE id = 3").ok());
  auto q = QueryQueueStatus(*conn_);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->counts, (SessionCounts{.uninitialized = 6, .completed = 4}));
  EXPECT_EQ(q->batches_active, 1);
  EXPECT_FALSE(q->paused);
}

}  // namespace
}  // namespace batchd::storage::pg
