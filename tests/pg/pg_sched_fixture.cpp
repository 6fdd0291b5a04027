#include "tests/pg/pg_sched_fixture.h"

#include "core/clock.h"
#include "storage/pg/pg_migrations.h"
#include "tests/pg/pg_test_db.h"

namespace batchd::storage::pg::testing {

void PgSchedFixture::SetUp() {
  uri_ = batchd::testing::FreshPgDatabaseUri();
  ASSERT_FALSE(uri_.empty());
  conn_ = Connect();
  ASSERT_NE(conn_, nullptr);
  ASSERT_TRUE(ApplyPgMigrations(*conn_).ok());
}

std::unique_ptr<PgConnection> PgSchedFixture::Connect() {
  auto c = PgConnection::Open(uri_);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(*c) : nullptr;
}

int64_t PgSchedFixture::InsertBatch(int64_t sessions, int64_t priority,
                                    std::optional<int64_t> max_running, int64_t max_attempts) {
  auto first = conn_->Exec(
      "UPDATE meta SET value = value + $1 WHERE key = 'next_session_id' RETURNING value - $1",
      {PgParam::Int(sessions)});
  EXPECT_TRUE(first.ok()) << first.status().message();
  const int64_t first_id = first->Int(0, 0);
  static int serial = 0;
  auto batch = conn_->Exec(
      "INSERT INTO batch (public_id, name, priority, runs, max_running, max_attempts, spec, "
      "shape, session_count, first_session_id, state, n_uninitialized, created_at, "
      "claim_cursor) VALUES ($1, 'b', $2, 1, $3, $4, ''::bytea, $8, $5, $6, "
      "'queued', $5, $7, $6) RETURNING id",
      {PgParam::Text("b" + std::to_string(++serial) + "_" + std::to_string(first_id)),
       PgParam::Int(priority), PgParam::Optional(max_running), PgParam::Int(max_attempts),
       PgParam::Int(sessions), PgParam::Int(first_id),
       PgParam::Int(batchd::testing::kPgTestWallClock()), PgParam::Text(std::to_string(sessions))});
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  const int64_t id = batch->Int(0, 0);
  Status s = conn_->Run(
      "INSERT INTO session (id, batch_id, ordinal) SELECT $1 + g, $2, g "
      "FROM generate_series(0, $3 - 1) AS g",
      {PgParam::Int(first_id), PgParam::Int(id), PgParam::Int(sessions)});
  EXPECT_TRUE(s.ok()) << s.message();
  return id;
}

int64_t PgSchedFixture::InsertNode(const std::string& name, int64_t heartbeat_at_ms) {
  auto r = conn_->Exec(
      "INSERT INTO node (name, host, listen, started_at, slots, heartbeat_at) "
      "VALUES ($1, 'h', '127.0.0.1:1', $2, 8, $2) RETURNING id",
      {PgParam::Text(name), PgParam::Int(heartbeat_at_ms)});
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r->Int(0, 0);
}

std::unique_ptr<PgScheduling> PgSchedFixture::StartScheduling(int64_t node_id, ResultMerger merge,
                                                              PgNodeSessions* sessions) {
  auto s = PgScheduling::Start({.uri = uri_,
                                .node_id = [node_id] { return node_id; },
                                .merge_results = std::move(merge),
                                .sessions = sessions});
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

int64_t PgSchedFixture::QueryInt(const std::string& sql) {
  auto r = conn_->Exec(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().message();
  return r.ok() && r->rows() > 0 ? r->Int(0, 0) : -1;
}

std::string PgSchedFixture::QueryText(const std::string& sql) {
  auto r = conn_->Exec(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().message();
  return r.ok() && r->rows() > 0 ? std::string(r->Text(0, 0)) : "";
}

void PgSchedFixture::ExpectCountersEqualRows() {
  auto r = conn_->Exec(
      "SELECT b.id, b.n_uninitialized, b.n_in_progress, b.n_completed, b.n_error, "
      "b.n_canceled, b.session_count, "
      "count(*) FILTER (WHERE s.state = 0), count(*) FILTER (WHERE s.state = 1), "
      "count(*) FILTER (WHERE s.state = 2), count(*) FILTER (WHERE s.state = 3), "
      "count(*) FILTER (WHERE s.state = 4) "
      "FROM batch b LEFT JOIN session s ON s.batch_id = b.id GROUP BY b.id ORDER BY b.id");
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (int i = 0; i < r->rows(); ++i) {
    int64_t total = 0;
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(r->Int(i, 1 + k), r->Int(i, 7 + k))
          << "batch " << r->Int(i, 0) << " counter of state " << k;
      total += r->Int(i, 1 + k);
    }
    EXPECT_EQ(total, r->Int(i, 6)) << "batch " << r->Int(i, 0);
  }
}

}  // namespace batchd::storage::pg::testing
