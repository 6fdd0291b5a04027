#include "storage_test_util.h"

#include <SQLiteCpp/Statement.h>

#include <cstdlib>
#include <map>

namespace batchd::storage::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "batchd-test-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

NewBatch MakeBatch(uint64_t sessions, int64_t priority) {
  NewBatch b;
  b.name = "test";
  b.priority = priority;
  b.spec_json = R"({"template":{"x":0},"data":[[{"field":"/x","items":[)";
  for (uint64_t i = 0; i < sessions; ++i) b.spec_json += (i ? "," : "") + std::to_string(i);
  b.spec_json += "]}]]}";
  b.group_lengths = {sessions};
  b.session_count = sessions;
  return b;
}

void ExpectCountersEqualRows(const std::filesystem::path& db_path) {
  SQLite::Database db(db_path.string(), SQLite::OPEN_READONLY);
  std::map<std::pair<int64_t, int>, int64_t> rows;
  SQLite::Statement grouped(
      db, "SELECT batch_id, state, COUNT(*) FROM session GROUP BY batch_id, state");
  while (grouped.executeStep()) {
    rows[{grouped.getColumn(0).getInt64(), grouped.getColumn(1).getInt()}] =
        grouped.getColumn(2).getInt64();
  }
  SQLite::Statement batches(db,
                            "SELECT id, session_count, n_uninitialized, n_in_progress, "
                            "n_completed, n_error, n_canceled FROM batch");
  while (batches.executeStep()) {
    const int64_t id = batches.getColumn(0).getInt64();
    int64_t total = 0;
    for (int state = 0; state < kSessionStateCount; ++state) {
      const int64_t counter = batches.getColumn(2 + state).getInt64();
      EXPECT_EQ(counter, (rows[{id, state}])) << "batch " << id << " state " << state;
      total += counter;
    }
    EXPECT_EQ(total, batches.getColumn(1).getInt64()) << "batch " << id;
  }
}

int64_t CountRows(const std::filesystem::path& db_path, const std::string& table) {
  SQLite::Database db(db_path.string(), SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT COUNT(*) FROM " + table).getInt64();
}

}  // namespace batchd::storage::testing
