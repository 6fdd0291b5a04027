// DirectReadPolicy's rules: direct reads from the start; a batch gives up after kMissesInARow
// misses in a row, a hit resets the count, and misses carry over from batch to batch; a run of
// misses sends the next kColdStretch chunks to GetMany, then direct reads are tried again; a store
// without a fast path ends direct reads for the session; a batch without tries changes nothing.
#include "pipeline/engine/direct_read_policy.h"

#include <gtest/gtest.h>

namespace batchd::pipeline {
namespace {

using Outcome = ChunkStore::ReadNowOutcome;
constexpr int kMisses = DirectReadPolicy::kMissesInARow;
constexpr size_t kStretch = DirectReadPolicy::kColdStretch;

DirectReadPolicy::Tries TriesOf(std::initializer_list<Outcome> outcomes) {
  DirectReadPolicy::Tries tries;
  for (Outcome o : outcomes) tries.Record(o);
  return tries;
}

// Ends one batch per outcome: batches of one chunk each, as with large chunks.
void OneChunkBatches(DirectReadPolicy& policy, Outcome outcome, int batches, size_t position) {
  for (int i = 0; i < batches; ++i) policy.EndBatch(TriesOf({outcome}), position);
}

TEST(DirectReadPolicyTest, ASessionReadsDirectlyFromTheStart) {
  DirectReadPolicy policy;
  EXPECT_TRUE(policy.enabled());
  EXPECT_TRUE(policy.AllowsAt(0));
  EXPECT_EQ(policy.WindowEnd(100), 0u) << "nothing for GetMany but what was not at hand";
  EXPECT_TRUE(DirectReadPolicy::Tries().worth_trying());
}

TEST(DirectReadPolicyTest, HitsKeepABatchTrying) {
  DirectReadPolicy::Tries tries;
  for (int i = 0; i < 100; ++i) tries.Record(i % 2 ? Outcome::kRead : Outcome::kMissing);
  EXPECT_TRUE(tries.worth_trying());
}

TEST(DirectReadPolicyTest, ABatchGivesUpAfterTheMissesInARow) {
  DirectReadPolicy::Tries tries;
  for (int i = 0; i < kMisses - 1; ++i) tries.Record(Outcome::kWouldWait);
  EXPECT_TRUE(tries.worth_trying()) << "one miss short";
  tries.Record(Outcome::kWouldWait);
  EXPECT_FALSE(tries.worth_trying());
}

TEST(DirectReadPolicyTest, AHitInTheBatchStartsTheCountAgain) {
  DirectReadPolicy::Tries tries;
  for (int i = 0; i < kMisses - 1; ++i) tries.Record(Outcome::kWouldWait);
  tries.Record(Outcome::kRead);
  for (int i = 0; i < kMisses - 1; ++i) tries.Record(Outcome::kWouldWait);
  EXPECT_TRUE(tries.worth_trying());
  tries.Record(Outcome::kMissing);  // a missing chunk is an answer too: the store was at hand
  for (int i = 0; i < kMisses - 1; ++i) tries.Record(Outcome::kWouldWait);
  EXPECT_TRUE(tries.worth_trying());
}

TEST(DirectReadPolicyTest, MissesInARowSendTheNextColdStretchToGetMany) {
  DirectReadPolicy policy;
  DirectReadPolicy::Tries tries;
  for (int i = 0; i < kMisses; ++i) tries.Record(Outcome::kWouldWait);
  policy.EndBatch(tries, 10);
  EXPECT_FALSE(policy.AllowsAt(10));
  EXPECT_FALSE(policy.AllowsAt(10 + kStretch - 1));
  EXPECT_TRUE(policy.AllowsAt(10 + kStretch)) << "then direct reads are tried again";
  EXPECT_EQ(policy.WindowEnd(1000), 10 + kStretch) << "GetMany takes the stretch";
  EXPECT_EQ(policy.WindowEnd(100), 100u) << "or what is left of the session, if less";
  EXPECT_TRUE(policy.enabled());
}

TEST(DirectReadPolicyTest, MissesCarryOverFromBatchToBatch) {
  DirectReadPolicy policy;
  OneChunkBatches(policy, Outcome::kWouldWait, kMisses - 1, 5);
  EXPECT_TRUE(policy.AllowsAt(5)) << "one miss short";
  OneChunkBatches(policy, Outcome::kWouldWait, 1, 6);
  EXPECT_FALSE(policy.AllowsAt(6));
  EXPECT_EQ(policy.WindowEnd(10'000), 6 + kStretch);
}

TEST(DirectReadPolicyTest, AHitInALaterBatchEndsTheRunAndItsTrailingMissesStartANewOne) {
  DirectReadPolicy policy;
  OneChunkBatches(policy, Outcome::kWouldWait, kMisses - 1, 0);
  // A hit, then one miss: the run before the hit is over, the miss starts a new one.
  policy.EndBatch(TriesOf({Outcome::kWouldWait, Outcome::kRead, Outcome::kWouldWait}), 0);
  OneChunkBatches(policy, Outcome::kWouldWait, kMisses - 2, 0);
  EXPECT_TRUE(policy.AllowsAt(0)) << "one miss short of a new run";
  OneChunkBatches(policy, Outcome::kWouldWait, 1, 0);
  EXPECT_FALSE(policy.AllowsAt(0));
}

TEST(DirectReadPolicyTest, ABatchWithoutTriesChangesNothing) {
  // A batch of chunks GetMany read makes no direct read: it neither ends nor extends a run.
  DirectReadPolicy policy;
  OneChunkBatches(policy, Outcome::kWouldWait, kMisses - 1, 0);
  for (int i = 0; i < 10; ++i) policy.EndBatch(DirectReadPolicy::Tries(), 0);
  EXPECT_TRUE(policy.AllowsAt(0));
  OneChunkBatches(policy, Outcome::kWouldWait, 1, 0);
  EXPECT_FALSE(policy.AllowsAt(0));
}

TEST(DirectReadPolicyTest, AfterAColdStretchTheCountStartsAfresh) {
  DirectReadPolicy policy;
  OneChunkBatches(policy, Outcome::kWouldWait, kMisses, 0);
  ASSERT_FALSE(policy.AllowsAt(0));
  OneChunkBatches(policy, Outcome::kWouldWait, kMisses - 1, kStretch);
  EXPECT_TRUE(policy.AllowsAt(kStretch));
  OneChunkBatches(policy, Outcome::kWouldWait, 1, kStretch + 7);
  EXPECT_FALSE(policy.AllowsAt(kStretch + 7));
  EXPECT_TRUE(policy.AllowsAt(2 * kStretch + 7));
}

TEST(DirectReadPolicyTest, AStoreWithoutAFastPathEndsDirectReadsForTheSession) {
  DirectReadPolicy policy;
  DirectReadPolicy::Tries tries;
  tries.Record(Outcome::kUnsupported);
  EXPECT_FALSE(tries.worth_trying()) << "the rest of the batch is not tried";
  policy.EndBatch(tries, 3);
  EXPECT_FALSE(policy.enabled());
  EXPECT_FALSE(policy.AllowsAt(3));
  EXPECT_FALSE(policy.AllowsAt(1'000'000));
  EXPECT_EQ(policy.WindowEnd(1000), 1000u) << "GetMany takes every chunk";
  policy.EndBatch(TriesOf({Outcome::kRead}), 4);
  EXPECT_FALSE(policy.enabled()) << "never again";
}

TEST(DirectReadPolicyTest, TheCountOfABatchThatGaveUpIsWhatItTried) {
  // A batch stops trying at kMissesInARow; the chunks after are not misses.
  DirectReadPolicy::Tries tries;
  for (int i = 0; i < kMisses; ++i) tries.Record(Outcome::kWouldWait);
  ASSERT_FALSE(tries.worth_trying());
  DirectReadPolicy policy;
  policy.EndBatch(tries, 0);
  EXPECT_FALSE(policy.AllowsAt(0));
  EXPECT_TRUE(policy.AllowsAt(kStretch)) << "one stretch, not more";
}

}  // namespace
}  // namespace batchd::pipeline
