#include "storage/store_health.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

namespace batchd::storage {
namespace {

size_t Index(StoreFailureCause c) { return static_cast<size_t>(c); }

TEST(StoreHealthTest, SqliteCodesMapToCauses) {
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_FULL), StoreFailureCause::kFull);
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_CORRUPT), StoreFailureCause::kCorrupt);
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_CORRUPT_INDEX), StoreFailureCause::kCorrupt);
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_NOTADB), StoreFailureCause::kCorrupt);
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_IOERR_WRITE), StoreFailureCause::kIo);
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_BUSY), StoreFailureCause::kBusy);
  EXPECT_EQ(CauseOfSqliteCode(SQLITE_CONSTRAINT), StoreFailureCause::kOther);
  EXPECT_STREQ(StoreFailureCauseName(StoreFailureCause::kFull), "full");
  EXPECT_STREQ(StoreFailureCauseName(StoreFailureCause::kOther), "other");
}

TEST(StoreHealthTest, AFullDiskIsDegradedUntilACommitAndCountedByCause) {
  StoreHealth health;
  EXPECT_FALSE(health.Snapshot().degraded);
  health.RecordFailure(StoreFailureCause::kFull, "a commit", "database or disk is full");
  health.RecordFailure(StoreFailureCause::kFull, "a commit", "database or disk is full");
  StoreHealthSnapshot s = health.Snapshot();
  EXPECT_TRUE(s.degraded);
  EXPECT_NE(s.reason.find("database or disk is full"), std::string::npos) << s.reason;
  EXPECT_EQ(s.failures[Index(StoreFailureCause::kFull)], 2);
  EXPECT_EQ(s.failures[Index(StoreFailureCause::kCorrupt)], 0);
  health.RecordCommit();
  s = health.Snapshot();
  EXPECT_FALSE(s.degraded);
  EXPECT_EQ(s.reason, "");
  EXPECT_EQ(s.failures[Index(StoreFailureCause::kFull)], 2);
}

TEST(StoreHealthTest, ADamagedDatabaseStaysDegradedAfterCommits) {
  StoreHealth health;
  health.RecordFailure(StoreFailureCause::kCorrupt, "a write", "database disk image is malformed");
  health.RecordCommit();
  health.RecordFailure(StoreFailureCause::kFull, "a commit", "database or disk is full");
  health.RecordCommit();
  const StoreHealthSnapshot s = health.Snapshot();
  EXPECT_TRUE(s.degraded);
  EXPECT_NE(s.reason.find("malformed"), std::string::npos) << s.reason;
  EXPECT_EQ(s.failures[Index(StoreFailureCause::kCorrupt)], 1);
}

}  // namespace
}  // namespace batchd::storage
