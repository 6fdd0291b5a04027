#include "storage/writer.h"

#include <sqlite3.h>

#include <SQLiteCpp/Exception.h>

namespace batchd::storage {
namespace {

// A SQLite failure as a Status: kCorrupt for a damaged file, kIoError otherwise.
Status SqliteFailure(const SQLite::Exception& e, const std::string& prefix) {
  if (CauseOfSqliteCode(e.getErrorCode()) == StoreFailureCause::kCorrupt) {
    return Status::Corrupt(prefix + e.what());
  }
  return Status::IoError(prefix + e.what());
}

// Runs one job's step inside a savepoint so that a failing job leaves its round-mates' work
// intact. A SQLite error is reported to `health` and sets *sqlite_failed. Some errors
// (SQLITE_FULL, SQLITE_IOERR) make SQLite roll back the whole transaction, savepoints and all:
// then *transaction_lost is set, and the round is over.
Result<WriteJob::Progress> StepInSavepoint(StatementCache& statements, WriteJob& job,
                                           StoreHealth& health, bool* sqlite_failed,
                                           bool* transaction_lost) {
  SQLite::Database& db = statements.db();
  statements.Use("SAVEPOINT job")->exec();
  Result<WriteJob::Progress> r = Status::Internal("step did not run");
  try {
    r = job.Step(db);
  } catch (const SQLite::Exception& e) {
    health.RecordFailure(CauseOfSqliteCode(e.getErrorCode()), "a write", e.what());
    *sqlite_failed = true;
    r = SqliteFailure(e, "sqlite: ");
  } catch (const std::exception& e) {
    r = Status::Internal(e.what());
  }
  if (!r.ok() && sqlite3_get_autocommit(db.getHandle()) != 0) {
    *transaction_lost = true;
    return r;
  }
  if (!r.ok()) statements.Use("ROLLBACK TO job")->exec();
  statements.Use("RELEASE job")->exec();
  return r;
}

}  // namespace

Writer::Writer(std::unique_ptr<SQLite::Database> db, WriterOptions options)
    : db_(std::move(db)), statements_(*db_), options_(options), queue_(options.queue_limit) {
  thread_ = std::thread([this] { Run(); });
}

Writer::~Writer() { Stop(); }

Status Writer::Submit(std::unique_ptr<WriteJob>& job) {
  if (!queue_.TryPush(job)) {
    return Status::Unavailable("the database writer is busy or stopping; retry later");
  }
  return Status::Ok();
}

Status Writer::SubmitUnbounded(std::unique_ptr<WriteJob> job) {
  if (queue_.closed()) return Status::Unavailable("the database writer is stopping");
  queue_.PushBack(std::move(job));
  return Status::Ok();
}

WriterStats Writer::Stats() const {
  return {.queue_depth = queue_.size(),
          .commits = commits_.load(std::memory_order_relaxed),
          .commit_failures = commit_failures_.load(std::memory_order_relaxed),
          .steps = steps_.load(std::memory_order_relaxed),
          .commit = commit_latency_.Read(),
          .transaction = transaction_latency_.Read()};
}

void Writer::Stop() {
  queue_.Close();
  if (thread_.joinable()) thread_.join();
  if (db_ && options_.observer) options_.observer->BeforeClose(*db_);
  statements_.Clear();
  db_.reset();
}

void Writer::Run() {
  for (;;) {
    std::vector<std::unique_ptr<WriteJob>> round = queue_.PopBatch(options_.max_jobs_per_commit);
    if (round.empty()) return;  // closed and drained
    RunRound(round);
  }
}

void Writer::CommitRound(std::chrono::steady_clock::time_point begin) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point commit = Clock::now();
  statements_.Use("COMMIT")->exec();
  const Clock::time_point end = Clock::now();
  commit_latency_.Observe(end - commit);
  transaction_latency_.Observe(end - begin);
  commits_.fetch_add(1, std::memory_order_relaxed);
}

void Writer::RunRound(std::vector<std::unique_ptr<WriteJob>>& round) {
  std::vector<Result<WriteJob::Progress>> results;
  results.reserve(round.size());
  Status commit_status;
  bool step_failed_in_sqlite = false;
  const int64_t changes_before = sqlite3_total_changes64(db_->getHandle());
  using Clock = std::chrono::steady_clock;
  const Clock::time_point begin = Clock::now();
  try {
    statements_.Use("BEGIN IMMEDIATE")->exec();
    bool lost = false;
    for (auto& job : round) {
      results.push_back(StepInSavepoint(statements_, *job, health_, &step_failed_in_sqlite, &lost));
      if (lost) break;
    }
    if (lost) {
      // Every job of the round fails with the step's error (its cause is already reported).
      commit_failures_.fetch_add(1, std::memory_order_relaxed);
      commit_status = results.back().status();
    } else {
      CommitRound(begin);
    }
  } catch (const SQLite::Exception& e) {
    commit_failures_.fetch_add(1, std::memory_order_relaxed);
    health_.RecordFailure(CauseOfSqliteCode(e.getErrorCode()), "a commit", e.what());
    commit_status = SqliteFailure(e, "commit failed: ");
    try {
      db_->exec("ROLLBACK");
    } catch (const SQLite::Exception&) {
      // SQLite had already rolled the transaction back.
    }
  }
  // Only a commit that wrote proves the database writable again: an empty transaction (a
  // claim that found nothing) commits on a full disk too.
  if (commit_status.ok() && !step_failed_in_sqlite &&
      sqlite3_total_changes64(db_->getHandle()) > changes_before) {
    health_.RecordCommit();
  }
  steps_.fetch_add(static_cast<int64_t>(results.size()), std::memory_order_relaxed);
  if (commit_status.ok() && options_.observer) options_.observer->AfterCommit(*db_);
  for (size_t i = 0; i < round.size(); ++i) {
    std::unique_ptr<WriteJob>& job = round[i];
    // A failed commit fails every job of the round (results may be short if BEGIN failed or
    // the round was lost); a job that failed on its own keeps its own reason.
    const bool own_failure = i < results.size() && !results[i].ok();
    const Status failure = own_failure || commit_status.ok() ? results[i].status() : commit_status;
    if (!failure.ok()) {
      job->Fail(*db_, failure);
    } else if (*results[i] == WriteJob::Progress::kDone) {
      job->Complete();
    } else {
      queue_.PushBack(std::move(job));  // yield: other writers go before our next slice
    }
  }
}

}  // namespace batchd::storage
