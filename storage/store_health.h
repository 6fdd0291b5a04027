// Whether the store can write, and if not, why: the writer reports here every SQLite failure
// of a job step or of a COMMIT, and every transaction that committed changes. /healthz answers
// `degraded` with the reason while writes fail, /metrics counts the failures by cause (both
// read it through StoreStats, store.h), and the log hears of each cause at most once a minute,
// with the number of repeats it did not print (a full disk fails every claim, every second).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/log_throttle.h"
#include "core/mutex.h"

namespace batchd::storage {

// Why SQLite refused a write, coarsely: what an operator does about it differs per cause.
enum class StoreFailureCause { kFull, kCorrupt, kIo, kBusy, kOther };
inline constexpr size_t kStoreFailureCauses = 5;

// "full", "corrupt", "io", "busy", "other": the metric's label values (docs/metrics.md).
const char* StoreFailureCauseName(StoreFailureCause cause);

// The cause of a SQLite result code, primary or extended (SQLITE_IOERR_WRITE is kIo).
StoreFailureCause CauseOfSqliteCode(int code);

struct StoreHealthSnapshot {
  bool degraded = false;
  std::string reason;                                   // empty unless degraded
  std::array<int64_t, kStoreFailureCauses> failures{};  // by cause (index), since the start
};

class StoreHealth {
 public:
  // A write failed: a step's statement or a COMMIT (`where`, for the log) threw SQLite's
  // `message`. The store is degraded from now on, until RecordCommit.
  void RecordFailure(StoreFailureCause cause, std::string_view where, std::string_view message);

  // A transaction that changed rows committed: the store writes again, so it is no longer
  // degraded, unless SQLite has reported the database damaged. A damaged file does not mend
  // itself (a commit that missed the damaged pages proves nothing), so kCorrupt stays until
  // the daemon restarts, where PRAGMA quick_check decides.
  void RecordCommit();

  // Safe from any thread.
  StoreHealthSnapshot Snapshot() const;

 private:
  mutable Mutex mu_;
  std::array<int64_t, kStoreFailureCauses> failures_ GUARDED_BY(mu_) = {};
  std::string failing_ GUARDED_BY(mu_);  // the latest failure since the last commit, or empty
  std::string corrupt_ GUARDED_BY(mu_);  // the first corruption reported, or empty
  int64_t failures_since_commit_ GUARDED_BY(mu_) = 0;
  std::array<LogThrottle, kStoreFailureCauses> throttles_;
  LogThrottle recovered_log_;
};

}  // namespace batchd::storage
