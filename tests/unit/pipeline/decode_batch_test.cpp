// DecodeBatch's thread-local scope: no batch outside a scope; inside, the batch is current for
// the pipeline that made it only, on this thread only; closing a scope brings back the enclosing
// one; Clear empties a batch for the next one.
#include "pipeline/engine/decode_batch.h"

#include <gtest/gtest.h>

#include <thread>

namespace batchd::pipeline {
namespace {

TEST(DecodeBatchTest, NoBatchOutsideAScope) {
  int owner = 0;
  DecodeBatch batch(&owner);
  EXPECT_EQ(DecodeBatch::Current(&owner), nullptr) << "made, but not opened";
}

TEST(DecodeBatchTest, AScopeMakesTheBatchCurrentForItsOwnerOnly) {
  int owner = 0, other = 0;
  DecodeBatch batch(&owner);
  {
    DecodeBatch::Scope scope(batch);
    EXPECT_EQ(DecodeBatch::Current(&owner), &batch);
    EXPECT_EQ(DecodeBatch::Current(&other), nullptr) << "another session's chunk is folded at once";
  }
  EXPECT_EQ(DecodeBatch::Current(&owner), nullptr) << "closed with its scope";
}

TEST(DecodeBatchTest, AnotherThreadSeesNoBatch) {
  int owner = 0;
  DecodeBatch batch(&owner);
  DecodeBatch::Scope scope(batch);
  DecodeBatch* seen = &batch;
  std::thread([&] { seen = DecodeBatch::Current(&owner); }).join();
  EXPECT_EQ(seen, nullptr) << "a consumer finishing on another thread must take the lock";
  EXPECT_EQ(DecodeBatch::Current(&owner), &batch);
}

TEST(DecodeBatchTest, ClosingAScopeBringsBackTheEnclosingOne) {
  int a = 0, b = 0;
  DecodeBatch outer(&a), inner(&b);
  DecodeBatch::Scope outer_scope(outer);
  {
    DecodeBatch::Scope inner_scope(inner);
    EXPECT_EQ(DecodeBatch::Current(&b), &inner);
    EXPECT_EQ(DecodeBatch::Current(&a), nullptr) << "only the innermost batch is current";
  }
  EXPECT_EQ(DecodeBatch::Current(&a), &outer);
  EXPECT_EQ(DecodeBatch::Current(&b), nullptr);
}

TEST(DecodeBatchTest, ClearEmptiesItForTheNextBatch) {
  int owner = 0;
  DecodeBatch batch(&owner);
  batch.outcomes.push_back({3, Status::IoError("x"), nullptr});
  batch.outcomes.push_back({4, Status::Ok(), std::make_unique<ChunkContribution>()});
  batch.not_at_hand = {7, 8};
  batch.bytes_read = 4096;
  for (int i = 0; i < DirectReadPolicy::kMissesInARow; ++i) {
    batch.tries.Record(ChunkStore::ReadNowOutcome::kWouldWait);
  }
  ASSERT_FALSE(batch.tries.worth_trying());
  batch.Clear();
  EXPECT_TRUE(batch.outcomes.empty());
  EXPECT_TRUE(batch.not_at_hand.empty());
  EXPECT_EQ(batch.bytes_read, 0);
  EXPECT_TRUE(batch.tries.worth_trying()) << "the next batch tries afresh";
  // Its misses start from zero too: one short of giving up is not giving up.
  for (int i = 0; i < DirectReadPolicy::kMissesInARow - 1; ++i) {
    batch.tries.Record(ChunkStore::ReadNowOutcome::kWouldWait);
  }
  EXPECT_TRUE(batch.tries.worth_trying());
}

}  // namespace
}  // namespace batchd::pipeline
