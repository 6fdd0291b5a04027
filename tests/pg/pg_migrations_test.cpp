#include "storage/pg/pg_migrations.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/pg/pg_test_db.h"

namespace batchd::storage::pg {
namespace {

TEST(PgMigrationsTest, AFreshDatabaseGetsTheLatestSchemaOnce) {
  std::string uri = testing::FreshPgDatabaseUri();
  auto conn = PgConnection::Open(uri);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  ASSERT_TRUE(ApplyPgMigrations(**conn).ok());
  ASSERT_TRUE(ApplyPgMigrations(**conn).ok());  // again: nothing to do
  auto version = (*conn)->Exec("SELECT version FROM batchd_schema");
  ASSERT_TRUE(version.ok());
  ASSERT_EQ(version->rows(), 1);
  EXPECT_EQ(version->Int(0, 0), LatestPgSchemaVersion());
  auto meta = (*conn)->Exec("SELECT value FROM meta WHERE key = 'next_session_id'");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->Int(0, 0), 1);
}

TEST(PgMigrationsTest, NodesStartingAtOnceMigrateOnceUnderTheLock) {
  std::string uri = testing::FreshPgDatabaseUri();
  std::vector<Status> results(4);
  std::vector<std::thread> nodes;
  for (size_t i = 0; i < results.size(); ++i) {
    nodes.emplace_back([&, i] {
      auto conn = PgConnection::Open(uri);
      results[i] = conn.ok() ? ApplyPgMigrations(**conn) : conn.status();
    });
  }
  for (auto& t : nodes) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.message();
  auto conn = PgConnection::Open(uri);
  ASSERT_TRUE(conn.ok());
  auto rows = (*conn)->Exec("SELECT count(*) FROM meta WHERE key = 'next_session_id'");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->Int(0, 0), 1);
}

TEST(PgMigrationsTest, ADatabaseFromANewerBatchdIsRefused) {
  std::string uri = testing::FreshPgDatabaseUri();
  auto conn = PgConnection::Open(uri);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(ApplyPgMigrations(**conn).ok());
  ASSERT_TRUE((*conn)->Run("UPDATE batchd_schema SET version = version + 1").ok());
  Status s = ApplyPgMigrations(**conn);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("newer than this batchd"), std::string::npos) << s.message();
}

TEST(PgConnectionTest, AServerThatIsNotThereIsUnavailable) {
  auto conn = PgConnection::Open("postgresql://batchd@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable);
}

TEST(PgConnectionTest, ABadUriIsAnInvalidArgument) {
  auto conn = PgConnection::Open("postgresql://batchd@127.0.0.1/x?no_such_option=1");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kInvalidArgument) << conn.status().message();
}

TEST(PgConnectionTest, CopyInAndBytesRoundTrip) {
  std::string uri = testing::FreshPgDatabaseUri();
  auto conn = PgConnection::Open(uri);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Run("CREATE TABLE t (id BIGINT, s TEXT, b BYTEA)").ok());
  std::string data;
  for (int i = 0; i < 1000; ++i) {
    data += std::to_string(i) + "\t";
    AppendCopyField(data, "tab\there\\ line\n" + std::to_string(i));
    data += "\t\\N\n";
  }
  auto copied = (*conn)->CopyIn("COPY t (id, s, b) FROM STDIN", data);
  ASSERT_TRUE(copied.ok()) << copied.status().message();
  EXPECT_EQ(*copied, 1000);
  auto row = (*conn)->Exec("SELECT s FROM t WHERE id = 7");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->Text(0, 0), "tab\there\\ line\n7");
  std::string bytes("\0\1\xff zz", 6);
  ASSERT_TRUE((*conn)->Run("UPDATE t SET b = $1 WHERE id = 7", {PgParam::Bytes(bytes)}).ok());
  auto back = (*conn)->Exec("SELECT b FROM t WHERE id = 7");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Bytes(0, 0), bytes);
  // A failed COPY leaves the connection usable.
  auto bad = (*conn)->CopyIn("COPY t (id) FROM STDIN", "notanumber\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE((*conn)->Run("SELECT 1").ok());
}

TEST(PgConnectionTest, ACommitAfterAFailedStatementIsAnError) {
  std::string uri = testing::FreshPgDatabaseUri();
  auto conn = PgConnection::Open(uri);
  ASSERT_TRUE(conn.ok());
  PgTransaction txn(**conn);
  ASSERT_TRUE(txn.begun().ok());
  EXPECT_FALSE((*conn)->Run("SELECT * FROM no_such_table").ok());
  EXPECT_FALSE(txn.Commit().ok());
}

TEST(PgConnectionTest, NotificationsArriveAfterCommit) {
  std::string uri = testing::FreshPgDatabaseUri();
  auto listener = PgConnection::Open(uri);
  auto sender = PgConnection::Open(uri);
  ASSERT_TRUE(listener.ok() && sender.ok());
  ASSERT_TRUE((*listener)->Listen("batchd_test").ok());
  ASSERT_TRUE((*sender)->Run("SELECT pg_notify('batchd_test', 'hello')").ok());
  std::vector<PgNotification> got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    auto n = (*listener)->WaitForNotifications(std::chrono::milliseconds(100));
    ASSERT_TRUE(n.ok());
    got = *n;
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].channel, "batchd_test");
  EXPECT_EQ(got[0].payload, "hello");
}

}  // namespace
}  // namespace batchd::storage::pg
