// One storage engine as the Store conformance suite sees it (issue 14): a name, a way to open a
// Store on data of its own and to open it again on the same data (a restart), and an inspector
// that reads the engine's tables behind the Store's back for the invariants the tests check
// (counters equal rows, row counts, a session's row). SQLite reads its file; PostgreSQL opens a
// PgConnection on the same database. Both schemas name their tables and columns alike
// (migrations/postgres/0001_initial.sql mirrors migrations/0001..0005), so the inspector's
// questions are the same on both.
//
// The inspector's reads fail the calling test (ADD_FAILURE) when the engine cannot answer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "storage/event_log_options.h"
#include "storage/store.h"

namespace batchd::storage::conformance {

// The options every engine has, in one place: what the tests vary.
struct StoreConfig {
  ResultMerger merge_results;
  uint64_t insert_slice_rows = 65536;
  EventLogOptions events;
  EventListener event_listener;
  WallClock clock = UnixMillis;
};

// A session's row as the engine stores it.
struct SessionRow {
  int64_t id = 0;
  int64_t ordinal = 0;
  int state = 0;
  int64_t attempts = 0;
  std::optional<int64_t> not_before;
};

// What a batch whose insert was cut off leaves behind (an `enqueuing` batch with the first
// `written` of its `session_count` sessions), as the engine would have committed it.
struct CutOffInsert {
  std::string public_id;
  int64_t first_session_id = 0;
  int64_t session_count = 0;
  int64_t written = 0;
};

class StoreUnderTest {
 public:
  virtual ~StoreUnderTest();

  // "sqlite" or "postgresql": the suite's parameter, and part of every test's name.
  virtual std::string name() const = 0;

  // Opens a Store on this engine's data with `config`, closing the one open before. The data
  // is created by the first Open and kept by later ones. The Store stays owned here.
  Status Open(StoreConfig config);
  // Closes the store and opens it again on the same data with the same config: a restart.
  Status Reopen();
  // Closes the store (idempotent). The data stays.
  void Close();
  // The open store; only valid after a successful Open.
  Store& store() { return *store_; }

  // --- The inspector: reads the engine's tables directly ---

  // For every batch: each n_<state> counter equals the number of its session rows in that
  // state, and the counters add up to session_count.
  void ExpectCountersEqualRows();
  // Rows of `table` (batch, session, session_state, event...).
  int64_t CountRows(std::string_view table);
  // The session's row; nullopt (and a test failure) if there is none.
  std::optional<SessionRow> Session(int64_t id);
  // Every session row, in id order.
  std::vector<SessionRow> Sessions();
  // meta.value for `key` (next_session_id, queue_paused); nullopt if missing.
  std::optional<int64_t> Meta(std::string_view key);
  // Writes a cut-off insert into the data while the store is closed, as a crash between two
  // slices would leave it for the next open to remove.
  virtual void PlantCutOffInsert(const CutOffInsert& cut) = 0;

 protected:
  // Rows of `sql`'s integer columns (NULL as nullopt). `sql` is plain SELECT text both engines
  // accept.
  using IntRows = std::vector<std::vector<std::optional<int64_t>>>;
  virtual IntRows QueryInts(const std::string& sql) = 0;
  virtual Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) = 0;

 private:
  std::optional<StoreConfig> config_;
  std::unique_ptr<Store> store_;
};

// The engines the suite runs over, by name: "sqlite", "postgresql".
std::vector<std::string> EngineNames();
// A StoreUnderTest for `name` with data of its own (a temp directory, a fresh database).
std::unique_ptr<StoreUnderTest> MakeStoreUnderTest(std::string_view name);

}  // namespace batchd::storage::conformance
