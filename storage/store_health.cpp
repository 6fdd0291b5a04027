#include "storage/store_health.h"

#include <sqlite3.h>

#include <spdlog/spdlog.h>

namespace batchd::storage {

const char* StoreFailureCauseName(StoreFailureCause cause) {
  switch (cause) {
    case StoreFailureCause::kFull:
      return "full";
    case StoreFailureCause::kCorrupt:
      return "corrupt";
    case StoreFailureCause::kIo:
      return "io";
    case StoreFailureCause::kBusy:
      return "busy";
    case StoreFailureCause::kOther:
      break;
  }
  return "other";
}

StoreFailureCause CauseOfSqliteCode(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
      return StoreFailureCause::kFull;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StoreFailureCause::kCorrupt;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return StoreFailureCause::kIo;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreFailureCause::kBusy;
    default:
      return StoreFailureCause::kOther;
  }
}

namespace {

std::string Reason(StoreFailureCause cause, std::string_view message) {
  std::string m(message);
  switch (cause) {
    case StoreFailureCause::kFull:
      return "the database cannot commit: " + m +
             " (disk full); finished sessions' outcomes are kept and written once there is "
             "space";
    case StoreFailureCause::kCorrupt:
      return "the database is damaged: " + m +
             " (corrupt); restore it from a backup, the check at the next start says more";
    case StoreFailureCause::kIo:
      return "the database cannot commit: " + m + " (I/O error)";
    case StoreFailureCause::kBusy:
      return "the database cannot commit: " + m + " (locked by another process)";
    case StoreFailureCause::kOther:
      break;
  }
  return "the database cannot commit: " + m;
}

}  // namespace

void StoreHealth::RecordFailure(StoreFailureCause cause, std::string_view where,
                                std::string_view message) {
  const auto index = static_cast<size_t>(cause);
  {
    MutexLock lock(mu_);
    ++failures_[index];
    ++failures_since_commit_;
    failing_ = Reason(cause, message);
    if (cause == StoreFailureCause::kCorrupt && corrupt_.empty()) corrupt_ = failing_;
  }
  if (std::optional<int64_t> suppressed = throttles_[index].Admit()) {
    spdlog::error("store: {} failed ({}): {}{}", where, StoreFailureCauseName(cause), message,
                  SuppressedSuffix(*suppressed));
  }
}

void StoreHealth::RecordCommit() {
  int64_t failed = 0;
  {
    MutexLock lock(mu_);
    if (failing_.empty()) return;
    failed = failures_since_commit_;
    failing_.clear();
    failures_since_commit_ = 0;
  }
  if (std::optional<int64_t> suppressed = recovered_log_.Admit()) {
    spdlog::info("store: commits succeed again, after {} failed write(s){}", failed,
                 SuppressedSuffix(*suppressed));
  }
}

StoreHealthSnapshot StoreHealth::Snapshot() const {
  MutexLock lock(mu_);
  StoreHealthSnapshot s;
  s.failures = failures_;
  s.reason = !corrupt_.empty() ? corrupt_ : failing_;
  s.degraded = !s.reason.empty();
  return s;
}

}  // namespace batchd::storage
