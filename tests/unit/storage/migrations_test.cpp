#include "storage/migrations.h"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include "storage/store.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

using testing::TempDir;

TEST(MigrationsTest, EmbeddedMigrationsAreNumberedWithoutGaps) {
  const auto& all = EmbeddedMigrations();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i + 1)) << all[i].name;
    EXPECT_FALSE(all[i].sql.empty()) << all[i].name;
  }
  EXPECT_EQ(LatestSchemaVersion(), all.back().version);
}

TEST(MigrationsTest, VersionZeroDatabaseUpgradesToLatest) {
  TempDir dir;
  SQLite::Database db((dir.path() / "db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  ASSERT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 0);

  ASSERT_TRUE(ApplyMigrations(db).ok());

  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), LatestSchemaVersion());
  EXPECT_TRUE(db.tableExists("batch"));
  EXPECT_TRUE(db.tableExists("session"));
  EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'next_session_id'").getInt64(), 1);
}

TEST(MigrationsTest, ApplyingTwiceChangesNothing) {
  TempDir dir;
  SQLite::Database db((dir.path() / "db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  ASSERT_TRUE(ApplyMigrations(db).ok());
  db.exec("UPDATE meta SET value = 42 WHERE key = 'next_session_id'");

  ASSERT_TRUE(ApplyMigrations(db).ok());

  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), LatestSchemaVersion());
  EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'next_session_id'").getInt64(), 42);
}

TEST(MigrationsTest, DatabaseFromANewerVersionIsRefusedAndLeftAlone) {
  TempDir dir;
  SQLite::Database db((dir.path() / "db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const int future = LatestSchemaVersion() + 1;
  db.exec("PRAGMA user_version = " + std::to_string(future));

  Status s = ApplyMigrations(db);

  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("schema version " + std::to_string(future)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("newer than this batchd"), std::string::npos) << s.message();
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), future);
  EXPECT_FALSE(db.tableExists("batch"));
}

TEST(MigrationsTest, OpeningTheStoreOnANewerDatabaseFails) {
  TempDir dir;
  const auto path = dir.path() / "batchd.db";
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 9999");
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore({.db_path = path});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
}

TEST(MigrationsTest, AFailingMigrationLeavesTheDatabaseAtItsOldVersion) {
  TempDir dir;
  SQLite::Database db((dir.path() / "db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  // A table the first migration wants to create already exists, so that migration fails.
  db.exec("CREATE TABLE batch (x INTEGER)");

  Status s = ApplyMigrations(db);

  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 0);
  EXPECT_FALSE(db.tableExists("meta"));  // created before the failure, rolled back with it
}

}  // namespace
}  // namespace batchd::storage
