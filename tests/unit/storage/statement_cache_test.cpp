// The writer's statement cache: statements are prepared once, and every lease starts clean.
#include "storage/statement_cache.h"

#include <SQLiteCpp/Exception.h>
#include <gtest/gtest.h>

#include "storage/sqlite_connection.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

class StatementCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenConnection(dir_.path() / "c.db", ConnectionRole::kWriter);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    db_->exec("CREATE TABLE t (v INTEGER)");
    db_->exec("INSERT INTO t (v) VALUES (1), (2), (3)");
  }

  testing::TempDir dir_;
  std::unique_ptr<SQLite::Database> db_;
};

constexpr char kCountAtLeast[] = "SELECT count(*) FROM t WHERE v >= ?";

TEST_F(StatementCacheTest, TheSameSqlGetsTheSamePreparedStatement) {
  StatementCache cache(*db_);
  const SQLite::Statement* first = nullptr;
  {
    auto s = cache.Use(kCountAtLeast);
    first = &*s;
  }
  auto again = cache.Use(kCountAtLeast);
  EXPECT_EQ(&*again, first);
}

TEST_F(StatementCacheTest, ALeaseStartsWithNoBindingsLeftFromTheLastOne) {
  StatementCache cache(*db_);
  {
    auto s = cache.Use(kCountAtLeast);
    s->bind(1, 3);
    ASSERT_TRUE(s->executeStep());
    EXPECT_EQ(s->getColumn(0).getInt64(), 1);
  }
  auto s = cache.Use(kCountAtLeast);
  ASSERT_TRUE(s->executeStep());
  // Unbound is NULL, and `v >= NULL` holds for no row: the 3 from the last lease is gone.
  EXPECT_EQ(s->getColumn(0).getInt64(), 0);
}

TEST_F(StatementCacheTest, AHalfReadLeaseDoesNotKeepItsReadOpenIntoTheCommit) {
  StatementCache cache(*db_);
  cache.Use("BEGIN IMMEDIATE")->exec();
  {
    auto rows = cache.Use("SELECT v FROM t ORDER BY v");
    ASSERT_TRUE(rows->executeStep());  // one of three rows read, then the lease ends
  }
  cache.Use("INSERT INTO t (v) VALUES (4)")->exec();
  EXPECT_NO_THROW(cache.Use("COMMIT")->exec());
  EXPECT_EQ(db_->execAndGet("SELECT count(*) FROM t").getInt64(), 4);
}

TEST_F(StatementCacheTest, SqlThatDoesNotCompileThrowsEveryTimeAndIsNotKept) {
  StatementCache cache(*db_);
  EXPECT_THROW(cache.Use("SELECT nope FROM t"), SQLite::Exception);
  EXPECT_THROW(cache.Use("SELECT nope FROM t"), SQLite::Exception);
}

}  // namespace
}  // namespace batchd::storage
