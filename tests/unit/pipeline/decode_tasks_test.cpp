// DecodeTasks' rules: a session claims no more tasks than its maximum, an ended task frees its
// place, a claim is out from ClaimUpTo until Submitted and the last one handed back says so (the
// session may end only then), an empty claim holds nothing, and a claim that is dropped or handed
// back wrongly is caught.
#include "pipeline/engine/decode_tasks.h"

#include <gtest/gtest.h>

#include <utility>

#include "debug_checks.h"

namespace batchd::pipeline {
namespace {

TEST(DecodeTasksTest, ClaimsStayWithinTheMaximum) {
  DecodeTasks tasks(2);
  DecodeTasks::Claim claim = tasks.ClaimUpTo(5);
  EXPECT_EQ(claim.tasks(), 2);
  EXPECT_EQ(tasks.tasks(), 2);
  DecodeTasks::Claim none = tasks.ClaimUpTo(1);
  EXPECT_FALSE(none) << "every task is out";
  EXPECT_TRUE(tasks.Submitted(std::move(claim)));
  EXPECT_EQ(tasks.tasks(), 2) << "submitted tasks stay counted until they end";
  EXPECT_FALSE(tasks.ClaimUpTo(1));
}

TEST(DecodeTasksTest, AnEndedTaskFreesItsPlace) {
  DecodeTasks tasks(2);
  EXPECT_TRUE(tasks.Submitted(tasks.ClaimUpTo(2)));
  tasks.TaskEnded();
  DecodeTasks::Claim claim = tasks.ClaimUpTo(2);
  EXPECT_EQ(claim.tasks(), 1);
  EXPECT_TRUE(tasks.Submitted(std::move(claim)));
  tasks.TaskEnded();
  tasks.TaskEnded();
  EXPECT_EQ(tasks.tasks(), 0);
}

TEST(DecodeTasksTest, AnEmptyClaimIsNotOut) {
  DecodeTasks tasks(1);
  for (int64_t wanted : {int64_t{0}, int64_t{-3}}) {
    DecodeTasks::Claim claim = tasks.ClaimUpTo(wanted);
    EXPECT_FALSE(claim) << wanted;
    EXPECT_EQ(claim.tasks(), 0);
    EXPECT_FALSE(tasks.claims_out()) << "nobody is submitting: the session may end";
  }
  EXPECT_EQ(tasks.tasks(), 0);
}

TEST(DecodeTasksTest, AClaimIsOutUntilSubmittedAndTheLastOneBackSaysSo) {
  DecodeTasks tasks(4);
  DecodeTasks::Claim a = tasks.ClaimUpTo(1);  // a store thread with a chunk
  DecodeTasks::Claim b = tasks.ClaimUpTo(2);  // Advance, for direct reads
  EXPECT_TRUE(tasks.claims_out());
  EXPECT_FALSE(tasks.Submitted(std::move(a))) << "b is still inside the pool";
  EXPECT_TRUE(tasks.claims_out());
  EXPECT_TRUE(tasks.Submitted(std::move(b))) << "ending the session, if due, falls to b";
  EXPECT_FALSE(tasks.claims_out());
  EXPECT_EQ(tasks.tasks(), 3);
}

TEST(DecodeTasksTest, AClaimMovesWithItsTasks) {
  DecodeTasks tasks(3);
  DecodeTasks::Claim a = tasks.ClaimUpTo(3);
  DecodeTasks::Claim b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from claims are empty by contract
  EXPECT_EQ(b.tasks(), 3);
  DecodeTasks::Claim c;
  c = std::move(b);
  EXPECT_EQ(c.tasks(), 3);
  EXPECT_TRUE(tasks.Submitted(std::move(c)));
}

TEST(DecodeTasksDeathTest, DroppingAClaimWithTasksIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  DecodeTasks tasks(1);
  EXPECT_DEATH({ DecodeTasks::Claim claim = tasks.ClaimUpTo(1); }, "dropped before Submitted");
}

TEST(DecodeTasksDeathTest, OverwritingAClaimWithTasksIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  DecodeTasks tasks(2);
  EXPECT_DEATH(
      {
        DecodeTasks::Claim claim = tasks.ClaimUpTo(1);
        claim = tasks.ClaimUpTo(1);
      },
      "overwritten before Submitted");
}

TEST(DecodeTasksDeathTest, HandingBackAnEmptyClaimIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  DecodeTasks tasks(1);
  EXPECT_DEATH((void)tasks.Submitted(DecodeTasks::Claim()), "empty claim");
}

TEST(DecodeTasksDeathTest, EndingATaskThatWasNeverClaimedIsABug) {
  BATCHD_SKIP_WITHOUT_DEBUG_CHECKS();
  DecodeTasks tasks(1);
  EXPECT_DEATH(tasks.TaskEnded(), "without a task");
}

}  // namespace
}  // namespace batchd::pipeline
