#include "tests/pg/pg_data_fixture.h"

#include "storage/pg/pg_migrations.h"
#include "tests/pg/pg_test_db.h"

namespace batchd::storage::pg {

void PgDataTest::SetUp() {
  uri_ = batchd::testing::FreshPgDatabaseUri();
  ASSERT_FALSE(uri_.empty());
  auto conn = PgConnection::Open(uri_);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  conn_ = std::move(conn).value();
  Status migrated = ApplyPgMigrations(*conn_);
  ASSERT_TRUE(migrated.ok()) << migrated.message();
}

NewBatch PgDataTest::SimpleBatch(uint64_t sessions, const std::string& name) {
  NewBatch b;
  b.name = name;
  b.spec_json = R"({"name":")" + name + R"(","groups":[{"n":)" + std::to_string(sessions) + "}]}";
  b.group_lengths = {sessions};
  b.session_count = sessions;
  return b;
}

BatchCreated PgDataTest::Insert(uint64_t sessions, PgInsertOptions options,
                                const std::string& name) {
  Result<BatchCreated> created = InsertBatch(*conn_, SimpleBatch(sessions, name), options, 1000);
  EXPECT_TRUE(created.ok()) << created.status().message();
  return created.ok() ? *created : BatchCreated{};
}

void PgDataTest::SetSessionStates(int64_t batch_id, uint64_t first_ordinal, uint64_t count,
                                  SessionState state) {
  Status moved = conn_->Run(
      "UPDATE session SET state = $1, attempts = greatest(attempts, 1) "
      "WHERE batch_id = $2 AND ordinal >= $3 AND ordinal < $4",
      {PgParam::Int(static_cast<int>(state)), PgParam::Int(batch_id),
       PgParam::Int(static_cast<int64_t>(first_ordinal)),
       PgParam::Int(static_cast<int64_t>(first_ordinal + count))});
  ASSERT_TRUE(moved.ok()) << moved.message();
  Status recounted = conn_->Run(
      "UPDATE batch b SET n_uninitialized = c.n0, n_in_progress = c.n1, n_completed = c.n2, "
      "n_error = c.n3, n_canceled = c.n4, "
      "state = CASE WHEN c.n0 + c.n1 = 0 THEN "
      "  CASE WHEN c.n3 > 0 THEN 'failed' WHEN c.n4 > 0 THEN 'canceled' ELSE 'completed' END "
      "  WHEN b.paused <> 0 THEN 'paused' WHEN c.n1 + c.n2 + c.n3 + c.n4 > 0 THEN 'running' "
      "  ELSE 'queued' END, "
      "finished_at = CASE WHEN c.n0 + c.n1 = 0 THEN 5000 END "
      "FROM (SELECT count(*) FILTER (WHERE state = 0) n0, count(*) FILTER (WHERE state = 1) n1, "
      "count(*) FILTER (WHERE state = 2) n2, count(*) FILTER (WHERE state = 3) n3, "
      "count(*) FILTER (WHERE state = 4) n4 FROM session WHERE batch_id = $1) c WHERE b.id = $1",
      {PgParam::Int(batch_id)});
  ASSERT_TRUE(recounted.ok()) << recounted.message();
}

void PgDataTest::ExpectCountersMatchRows() {
  auto r = conn_->Exec(
      "SELECT b.public_id, b.n_uninitialized, b.n_in_progress, b.n_completed, b.n_error, "
      "b.n_canceled, count(s.id) FILTER (WHERE s.state = 0), "
      "count(s.id) FILTER (WHERE s.state = 1), count(s.id) FILTER (WHERE s.state = 2), "
      "count(s.id) FILTER (WHERE s.state = 3), count(s.id) FILTER (WHERE s.state = 4) "
      "FROM batch b LEFT JOIN session s ON s.batch_id = b.id "
      "WHERE b.state <> 'enqueuing' GROUP BY b.id ORDER BY b.id");
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (int i = 0; i < r->rows(); ++i) {
    for (int k = 0; k < kSessionStateCount; ++k) {
      EXPECT_EQ(r->Int(i, 1 + k), r->Int(i, 6 + k))
          << "batch " << r->Text(i, 0) << ", " << SessionStateName(static_cast<SessionState>(k));
    }
  }
}

int64_t PgDataTest::QueryInt(const std::string& sql) {
  auto r = conn_->Exec(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().message();
  if (!r.ok() || r->rows() == 0) return -1;
  return r->Int(0, 0);
}

}  // namespace batchd::storage::pg
