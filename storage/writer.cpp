#include "storage/writer.h"

#include <SQLiteCpp/Exception.h>
#include <spdlog/spdlog.h>

namespace batchd::storage {
namespace {

// Runs one job's step inside a savepoint so that a failing job leaves its round-mates' work
// intact.
Result<WriteJob::Progress> StepInSavepoint(StatementCache& statements, WriteJob& job) {
  SQLite::Database& db = statements.db();
  statements.Use("SAVEPOINT job")->exec();
  Result<WriteJob::Progress> r = Status::Internal("step did not run");
  try {
    r = job.Step(db);
  } catch (const SQLite::Exception& e) {
    r = Status::IoError(std::string("sqlite: ") + e.what());
  } catch (const std::exception& e) {
    r = Status::Internal(e.what());
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

void Writer::RunRound(std::vector<std::unique_ptr<WriteJob>>& round) {
  std::vector<Result<WriteJob::Progress>> results;
  results.reserve(round.size());
  Status commit_status;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point begin = Clock::now();
  try {
    statements_.Use("BEGIN IMMEDIATE")->exec();
    for (auto& job : round) results.push_back(StepInSavepoint(statements_, *job));
    const Clock::time_point commit = Clock::now();
    statements_.Use("COMMIT")->exec();
    const Clock::time_point end = Clock::now();
    commit_latency_.Observe(end - commit);
    transaction_latency_.Observe(end - begin);
    commits_.fetch_add(1, std::memory_order_relaxed);
  } catch (const SQLite::Exception& e) {
    commit_failures_.fetch_add(1, std::memory_order_relaxed);
    commit_status = Status::IoError(std::string("commit failed: ") + e.what());
    spdlog::error("writer: {}", commit_status.message());
    try {
      db_->exec("ROLLBACK");
    } catch (const SQLite::Exception&) {
      // SQLite had already rolled the transaction back.
    }
  }
  steps_.fetch_add(static_cast<int64_t>(results.size()), std::memory_order_relaxed);
  if (commit_status.ok() && options_.observer) options_.observer->AfterCommit(*db_);
  for (size_t i = 0; i < round.size(); ++i) {
    std::unique_ptr<WriteJob>& job = round[i];
    // A failed commit fails every job of the round (results may be short if BEGIN failed).
    const Status failure = !commit_status.ok() ? commit_status : results[i].status();
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
