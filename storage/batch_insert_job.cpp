#include "storage/batch_insert_job.h"
#include "storage/batch_identity.h"

#include <algorithm>
#include <random>

#include <SQLiteCpp/Database.h>

#include "storage/json_blob.h"

namespace batchd::storage {
namespace {

// Rows per INSERT statement: large enough to amortize the statement's per-execution cost,
// small enough to stay far below SQLITE_MAX_VARIABLE_NUMBER (3 variables per row).
constexpr uint64_t kRowsPerStatement = 256;

std::string MultiRowInsertSql(uint64_t rows) {
  std::string sql = "INSERT INTO session (id, batch_id, ordinal) VALUES ";
  for (uint64_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?)" : ",(?,?,?)";
  return sql;
}

}  // namespace

BatchInsertJob::BatchInsertJob(NewBatch batch, int64_t created_at_ms, uint64_t slice_rows,
                               uint64_t max_active_batches, HalfInsertedBatches& leftovers,
                               Callback<BatchCreated> done)
    : batch_(std::move(batch)),
      slice_rows_(std::max<uint64_t>(slice_rows, 1)),
      max_active_batches_(max_active_batches),
      leftovers_(leftovers),
      done_(std::move(done)),
      public_id_(NewPublicId()),
      created_at_ms_(created_at_ms) {}

Result<WriteJob::Progress> BatchInsertJob::Step(SQLite::Database& db) {
  if (batch_id_ == 0) {
    started_ = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(CheckActiveBatches(db));
    InsertBatchRow(db);
  }
  const uint64_t n = std::min(slice_rows_, batch_.session_count - inserted_);
  InsertSessions(db, n);
  inserted_ += n;
  const bool last = inserted_ == batch_.session_count;
  SQLite::Statement count(db, last ? "UPDATE batch SET n_uninitialized = n_uninitialized + ?, "
                                     "state = 'queued' WHERE id = ?"
                                   : "UPDATE batch SET n_uninitialized = n_uninitialized + ? "
                                     "WHERE id = ?");
  count.bind(1, static_cast<int64_t>(n));
  count.bind(2, batch_id_);
  count.exec();
  return last ? Progress::kDone : Progress::kMore;
}

Status BatchInsertJob::CheckActiveBatches(SQLite::Database& db) const {
  if (max_active_batches_ == 0) return Status::Ok();
  // Batches are few next to sessions, and batch_by_state makes this an index range count.
  SQLite::Statement count(db,
                          "SELECT count(*) FROM batch "
                          "WHERE state IN ('enqueuing', 'queued', 'running', 'paused')");
  count.executeStep();
  const int64_t active = count.getColumn(0).getInt64();
  if (active >= static_cast<int64_t>(max_active_batches_)) {
    return Status::LimitExceeded("there are already " + std::to_string(active) +
                                 " unfinished batches, the daemon's limit (" +
                                 std::to_string(max_active_batches_) +
                                 "); submit again once some have finished");
  }
  return Status::Ok();
}

void BatchInsertJob::InsertBatchRow(SQLite::Database& db) {
  // Reserve a contiguous id range, so the batch's sessions are one rowid range.
  SQLite::Statement reserve(db,
                            "UPDATE meta SET value = value + ? WHERE key = 'next_session_id' "
                            "RETURNING value - ?");
  reserve.bind(1, static_cast<int64_t>(batch_.session_count));
  reserve.bind(2, static_cast<int64_t>(batch_.session_count));
  if (!reserve.executeStep()) throw std::runtime_error("meta.next_session_id is missing");
  first_session_id_ = reserve.getColumn(0).getInt64();

  SQLite::Statement insert(db,
                           "INSERT INTO batch (public_id, name, priority, runs, max_running, "
                           "max_attempts, spec, shape, session_count, first_session_id, state, "
                           "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,'enqueuing',?)");
  const std::string spec = CompressJson(batch_.spec_json);
  insert.bind(1, public_id_);
  insert.bind(2, batch_.name);
  insert.bind(3, batch_.priority);
  insert.bind(4, batch_.runs);
  if (batch_.max_running) insert.bind(5, *batch_.max_running);
  insert.bind(6, batch_.max_attempts);
  insert.bind(7, spec.data(), static_cast<int>(spec.size()));
  insert.bind(8, JoinShape(batch_.group_lengths));
  insert.bind(9, static_cast<int64_t>(batch_.session_count));
  insert.bind(10, first_session_id_);
  insert.bind(11, created_at_ms_);
  insert.exec();
  batch_id_ = db.getLastInsertRowid();
}

void BatchInsertJob::InsertSessions(SQLite::Database& db, uint64_t count) {
  auto bind_rows = [&](SQLite::Statement& stmt, uint64_t rows, uint64_t ordinal) {
    int param = 1;
    for (uint64_t r = 0; r < rows; ++r, ++ordinal) {
      stmt.bind(param++, first_session_id_ + static_cast<int64_t>(ordinal));
      stmt.bind(param++, batch_id_);
      stmt.bind(param++, static_cast<int64_t>(ordinal));
    }
    stmt.exec();
    stmt.reset();
  };
  uint64_t ordinal = inserted_;
  const uint64_t end = inserted_ + count;
  if (end - ordinal >= kRowsPerStatement && !insert_rows_) {
    insert_rows_ = std::make_unique<SQLite::Statement>(db, MultiRowInsertSql(kRowsPerStatement));
  }
  for (; end - ordinal >= kRowsPerStatement; ordinal += kRowsPerStatement) {
    bind_rows(*insert_rows_, kRowsPerStatement, ordinal);
  }
  if (ordinal < end) {
    SQLite::Statement tail(db, MultiRowInsertSql(end - ordinal));
    bind_rows(tail, end - ordinal, ordinal);
  }
}

void BatchInsertJob::Complete() {
  insert_rows_.reset();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
          .count();
  done_(BatchCreated{batch_id_, public_id_, batch_.session_count, ms});
}

void BatchInsertJob::Fail(SQLite::Database& db, const Status& status) {
  insert_rows_.reset();
  if (batch_id_ != 0) {
    // Undo the slices that did commit. Match on the public id too: if the first step itself
    // was rolled back, batch_id_ may since have been given to another batch.
    leftovers_.Remove(db, {.batch_id = batch_id_,
                           .public_id = public_id_,
                           .first_session_id = first_session_id_,
                           .session_count = static_cast<int64_t>(batch_.session_count)});
  }
  done_(status);
}

}  // namespace batchd::storage
