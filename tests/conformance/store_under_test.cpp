#include "tests/conformance/store_under_test.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <utility>

#include "storage/json_blob.h"
#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_store.h"
#include "storage_test_util.h"
#include "tests/pg/pg_test_db.h"

namespace batchd::storage::conformance {

StoreUnderTest::~StoreUnderTest() = default;

Status StoreUnderTest::Open(StoreConfig config) {
  Close();
  config_ = std::move(config);
  Result<std::unique_ptr<Store>> opened = OpenStore(*config_);
  if (!opened.ok()) return opened.status();
  store_ = std::move(*opened);
  return Status::Ok();
}

Status StoreUnderTest::Reopen() {
  if (!config_) return Status::FailedPrecondition("Reopen before Open");
  return Open(*config_);
}

void StoreUnderTest::Close() {
  if (!store_) return;
  store_->Close();
  store_.reset();
}

void StoreUnderTest::ExpectCountersEqualRows() {
  std::map<std::pair<int64_t, int64_t>, int64_t> rows;
  for (const auto& r : QueryInts("SELECT batch_id, state, COUNT(*) FROM session "
                                 "GROUP BY batch_id, state")) {
    rows[{r[0].value_or(0), r[1].value_or(0)}] = r[2].value_or(0);
  }
  for (const auto& b :
       QueryInts("SELECT id, session_count, n_uninitialized, n_in_progress, n_completed, n_error, "
                 "n_canceled FROM batch")) {
    const int64_t id = b[0].value_or(0);
    int64_t total = 0;
    for (int state = 0; state < kSessionStateCount; ++state) {
      const int64_t counter = b[2 + state].value_or(0);
      EXPECT_EQ(counter, (rows[{id, state}])) << "batch " << id << " state " << state;
      total += counter;
    }
    EXPECT_EQ(total, b[1].value_or(-1)) << "batch " << id;
  }
}

int64_t StoreUnderTest::CountRows(std::string_view table) {
  const IntRows r = QueryInts("SELECT COUNT(*) FROM " + std::string(table));
  return r.empty() ? -1 : r[0][0].value_or(-1);
}

namespace {

constexpr const char* kSessionColumns =
    "SELECT id, ordinal, state, attempts, not_before FROM session";

SessionRow ToSessionRow(const std::vector<std::optional<int64_t>>& r) {
  return {.id = r[0].value_or(0),
          .ordinal = r[1].value_or(0),
          .state = static_cast<int>(r[2].value_or(-1)),
          .attempts = r[3].value_or(0),
          .not_before = r[4]};
}

}  // namespace

std::optional<SessionRow> StoreUnderTest::Session(int64_t id) {
  const IntRows r = QueryInts(std::string(kSessionColumns) + " WHERE id = " + std::to_string(id));
  if (r.empty()) {
    ADD_FAILURE() << "no session row " << id;
    return std::nullopt;
  }
  return ToSessionRow(r[0]);
}

std::vector<SessionRow> StoreUnderTest::Sessions() {
  std::vector<SessionRow> out;
  for (const auto& r : QueryInts(std::string(kSessionColumns) + " ORDER BY id")) {
    out.push_back(ToSessionRow(r));
  }
  return out;
}

std::optional<int64_t> StoreUnderTest::Meta(std::string_view key) {
  // Keys are the tests' own literals, never input.
  const IntRows r = QueryInts("SELECT value FROM meta WHERE key = '" + std::string(key) + "'");
  if (r.empty()) return std::nullopt;
  return r[0][0];
}

namespace {

// SQLite: a database file in a temp directory; the inspector opens the file itself.
class SqliteUnderTest final : public StoreUnderTest {
 public:
  std::string name() const override { return "sqlite"; }

  void PlantCutOffInsert(const CutOffInsert& cut) override {
    SQLite::Database db(db_path().string(), SQLite::OPEN_READWRITE);
    const std::string spec = CompressJson("{}");
    SQLite::Statement b(db,
                        "INSERT INTO batch (public_id, name, priority, runs, max_attempts, spec, "
                        "shape, session_count, first_session_id, state, n_uninitialized, "
                        "created_at) VALUES (?, 'cut', 0, 1, 3, ?, ?, ?, ?, 'enqueuing', ?, 0)");
    b.bind(1, cut.public_id);
    b.bind(2, spec.data(), static_cast<int>(spec.size()));
    b.bind(3, std::to_string(cut.session_count));
    b.bind(4, cut.session_count);
    b.bind(5, cut.first_session_id);
    b.bind(6, cut.written);
    b.exec();
    const int64_t id = db.getLastInsertRowid();
    for (int64_t i = 0; i < cut.written; ++i) {
      db.exec("INSERT INTO session (id, batch_id, ordinal) VALUES (" +
              std::to_string(cut.first_session_id + i) + ", " + std::to_string(id) + ", " +
              std::to_string(i) + ")");
    }
    db.exec("UPDATE meta SET value = " + std::to_string(cut.first_session_id + cut.session_count) +
            " WHERE key = 'next_session_id'");
  }

 protected:
  IntRows QueryInts(const std::string& sql) override {
    IntRows out;
    try {
      SQLite::Database db(db_path().string(), SQLite::OPEN_READONLY);
      SQLite::Statement q(db, sql);
      while (q.executeStep()) {
        std::vector<std::optional<int64_t>> row;
        for (int c = 0; c < q.getColumnCount(); ++c) {
          if (q.getColumn(c).isNull()) {
            row.emplace_back();
          } else {
            row.emplace_back(q.getColumn(c).getInt64());
          }
        }
        out.push_back(std::move(row));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << sql << ": " << e.what();
    }
    return out;
  }

  Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) override {
    return OpenSqliteStore({.db_path = db_path(),
                            .merge_results = config.merge_results,
                            .insert_slice_rows = config.insert_slice_rows,
                            .events = config.events,
                            .event_listener = config.event_listener,
                            .clock = config.clock});
  }

 private:
  std::filesystem::path db_path() const { return dir_.path() / "batchd.db"; }
  testing::TempDir dir_;
};

// PostgreSQL: a fresh database on the test server; the inspector has a connection of its own.
class PgUnderTest final : public StoreUnderTest {
 public:
  PgUnderTest() : uri_(batchd::testing::FreshPgDatabaseUri()) {}

  std::string name() const override { return "postgresql"; }

  void PlantCutOffInsert(const CutOffInsert& cut) override {
    pg::PgConnection* c = Connection();
    if (c == nullptr) return;
    // The batch belongs to the node that inserted it (the last one registered, the store just
    // closed): it is removed once that node is known gone, which the next open of a node of the
    // same name establishes at once.
    Result<pg::PgResult> b = c->Exec(
        "INSERT INTO batch (public_id, name, priority, runs, max_attempts, spec, shape, "
        "session_count, first_session_id, state, n_uninitialized, created_at, inserted_by) "
        "VALUES ($1, 'cut', 0, 1, 3, $2, $3, $4, $5, 'enqueuing', $6, 0, "
        "(SELECT max(id) FROM node)) RETURNING id",
        {pg::PgParam::Text(cut.public_id), pg::PgParam::Bytes(CompressJson("{}")),
         pg::PgParam::Text(std::to_string(cut.session_count)), pg::PgParam::Int(cut.session_count),
         pg::PgParam::Int(cut.first_session_id), pg::PgParam::Int(cut.written)});
    if (!b.ok()) {
      ADD_FAILURE() << b.status().ToString();
      return;
    }
    const int64_t id = b->Int(0, 0);
    for (int64_t i = 0; i < cut.written; ++i) {
      if (Status s = c->Run("INSERT INTO session (id, batch_id, ordinal) VALUES ($1, $2, $3)",
                            {pg::PgParam::Int(cut.first_session_id + i), pg::PgParam::Int(id),
                             pg::PgParam::Int(i)});
          !s.ok()) {
        ADD_FAILURE() << s.ToString();
        return;
      }
    }
    if (Status s = c->Run("UPDATE meta SET value = $1 WHERE key = 'next_session_id'",
                          {pg::PgParam::Int(cut.first_session_id + cut.session_count)});
        !s.ok()) {
      ADD_FAILURE() << s.ToString();
    }
  }

 protected:
  IntRows QueryInts(const std::string& sql) override {
    IntRows out;
    pg::PgConnection* c = Connection();
    if (c == nullptr) return out;
    Result<pg::PgResult> r = c->Exec(sql);
    if (!r.ok()) {
      ADD_FAILURE() << sql << ": " << r.status().ToString();
      return out;
    }
    for (int row = 0; row < r->rows(); ++row) {
      std::vector<std::optional<int64_t>> values;
      for (int col = 0; col < r->columns(); ++col) values.push_back(r->OptionalInt(row, col));
      out.push_back(std::move(values));
    }
    return out;
  }

  Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) override {
    if (uri_.empty()) return Status::Unavailable("no PostgreSQL server for the test");
    PgStoreOptions o;
    o.uri = uri_;
    o.merge_results = config.merge_results;
    o.insert_slice_rows = config.insert_slice_rows;
    o.events = config.events;
    o.event_listener = config.event_listener;
    o.node.name = "conformance";
    o.node.host = "127.0.0.1";
    o.node.listen = "127.0.0.1:0";
    // Short, so that what a node's liveness decides happens within the test.
    o.heartbeat_interval = std::chrono::milliseconds(100);
    o.node_timeout = std::chrono::milliseconds(1000);
    o.clock = config.clock;
    return OpenPgStore(o);
  }

 private:
  pg::PgConnection* Connection() {
    if (conn_ && !conn_->IsBroken()) return conn_.get();
    Result<std::unique_ptr<pg::PgConnection>> c = pg::PgConnection::Open(uri_);
    if (!c.ok()) {
      ADD_FAILURE() << "inspector connection: " << c.status().ToString();
      return nullptr;
    }
    conn_ = std::move(*c);
    return conn_.get();
  }

  std::string uri_;
  std::unique_ptr<pg::PgConnection> conn_;
};

}  // namespace

std::vector<std::string> EngineNames() { return {"sqlite", "postgresql"}; }

std::unique_ptr<StoreUnderTest> MakeStoreUnderTest(std::string_view name) {
  if (name == "sqlite") return std::make_unique<SqliteUnderTest>();
  if (name == "postgresql") return std::make_unique<PgUnderTest>();
  ADD_FAILURE() << "no engine named " << name;
  return nullptr;
}

}  // namespace batchd::storage::conformance
