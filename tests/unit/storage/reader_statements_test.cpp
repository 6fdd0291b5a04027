// The reader pool keeps its prepared statements (storage/read_pool.h): a cached statement must
// never serve a stale snapshot or a previous call's bindings. Every read here follows a change
// committed by the writer, on the same connections, many times over.
#include <gtest/gtest.h>

#include "storage/store.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

using testing::Await;
using testing::MakeBatch;
using testing::TempDir;

TEST(ReaderStatementsTest, CachedReadsSeeEveryCommittedChangeAndTheirOwnBindings) {
  TempDir dir;
  Result<std::unique_ptr<Store>> store = OpenSqliteStore({.db_path = dir.path() / "batchd.db"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store& s = **store;
  std::vector<std::string> ids;
  for (int round = 0; round < 20; ++round) {
    Result<BatchCreated> created =
        Await<BatchCreated>([&](auto cb) { s.CreateBatch(MakeBatch(3 + round), cb); });
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    ids.push_back(created->public_id);
    const bool paused = round % 2 == 0;
    ASSERT_TRUE(Await<BatchRecord>([&](auto cb) {
                  s.SetBatchPaused(created->public_id, paused, cb);
                }).ok());

    // The new batch, with its own size and the state just committed.
    Result<BatchRecord> batch =
        Await<BatchRecord>([&](auto cb) { s.GetBatch(created->public_id, cb); });
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_EQ(batch->session_count, static_cast<uint64_t>(3 + round));
    EXPECT_EQ(batch->state, paused ? BatchState::kPaused : BatchState::kQueued);
    // An earlier batch through the same statement: the binding is this call's.
    Result<BatchRecord> first = Await<BatchRecord>([&](auto cb) { s.GetBatch(ids.front(), cb); });
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->public_id, ids.front());
    // A missing batch after a found one.
    Result<BatchRecord> missing =
        Await<BatchRecord>([&](auto cb) { s.GetBatch("00000000000000ff", cb); });
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

    // The list, with and without a state filter, and the queue totals all see every batch.
    Result<Page<BatchRecord>> all =
        Await<Page<BatchRecord>>([&](auto cb) { s.ListBatches({.limit = 1000}, cb); });
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->items.size(), ids.size());
    EXPECT_EQ(all->items.front().public_id, ids.back());
    Result<Page<BatchRecord>> in_paused = Await<Page<BatchRecord>>(
        [&](auto cb) { s.ListBatches({.state = BatchState::kPaused, .limit = 1000}, cb); });
    ASSERT_TRUE(in_paused.ok());
    EXPECT_EQ(in_paused->items.size(), static_cast<size_t>(round / 2 + 1));
    Result<QueueStatus> queue = Await<QueueStatus>([&](auto cb) { s.GetQueueStatus(cb); });
    ASSERT_TRUE(queue.ok());
    EXPECT_EQ(queue->batches_active, static_cast<int64_t>(ids.size()));
  }
  Result<QueueStatus> paused_queue =
      Await<QueueStatus>([&](auto cb) { s.SetQueuePaused(true, cb); });
  ASSERT_TRUE(paused_queue.ok());
  Result<QueueStatus> queue = Await<QueueStatus>([&](auto cb) { s.GetQueueStatus(cb); });
  ASSERT_TRUE(queue.ok());
  EXPECT_TRUE(queue->paused);
  s.Close();
}

}  // namespace
}  // namespace batchd::storage
