#include "storage/outcome_buffer.h"

#include <map>

#include <SQLiteCpp/Statement.h>
#include <spdlog/spdlog.h>

#include "storage/batch_counters.h"
#include "storage/json_blob.h"

namespace batchd::storage {

class OutcomeFlushJob : public WriteJob {
 public:
  explicit OutcomeFlushJob(OutcomeBuffer& buffer) : buffer_(buffer) {}

  Result<Progress> Step(SQLite::Database& db) override {
    entries_ = buffer_.TakeAll();
    SQLite::Statement save(db,
                           "INSERT INTO session_state (session_id, state, started_at) "
                           "VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
                           "state = excluded.state, started_at = excluded.started_at");
    SQLite::Statement move(db,
                           "UPDATE session SET state = ?, not_before = ? "
                           "WHERE id = ? AND state = 1");
    SQLite::Statement record(db,
                             "INSERT INTO session_state (session_id, result, error_kind, "
                             "error_message, finished_at) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (session_id) DO UPDATE SET result = excluded.result, "
                             "error_kind = excluded.error_kind, "
                             "error_message = excluded.error_message, "
                             "finished_at = excluded.finished_at");
    std::map<int64_t, CounterDelta> deltas;
    int64_t now_ms = 0;
    applied_.assign(entries_.size(), false);
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (auto* saved = std::get_if<OutcomeBuffer::SavedState>(&entries_[i])) {
        const std::string blob = CompressJson(saved->state_json);
        save.bind(1, saved->session_id);
        save.bind(2, blob.data(), static_cast<int>(blob.size()));
        save.bind(3, saved->started_at_ms);
        save.exec();
        save.reset();
        continue;
      }
      const SessionOutcome& o = std::get<OutcomeBuffer::Finished>(entries_[i]).outcome;
      const SessionState to = TargetState(o.target);
      move.bind(1, static_cast<int>(to));
      if (o.target == SessionOutcome::Target::kRequeue) {
        move.bind(2, o.not_before_ms);
      } else {
        move.bind(2);  // NULL
      }
      move.bind(3, o.session_id);
      applied_[i] = move.exec() == 1;
      move.reset();
      if (!applied_[i]) continue;  // it had already left in_progress: count nothing twice
      Move(deltas[o.batch_id], SessionState::kInProgress, to);
      now_ms = std::max(now_ms, o.finished_at_ms);
      record.bind(1, o.session_id);
      if (o.result_json) {
        record.bind(2, *o.result_json);
      } else {
        record.bind(2);
      }
      if (o.error_kind.empty()) {
        record.bind(3);
        record.bind(4);
      } else {
        record.bind(3, o.error_kind);
        record.bind(4, o.error_message);
      }
      if (o.target == SessionOutcome::Target::kRequeue) {
        record.bind(5);
      } else {
        record.bind(5, o.finished_at_ms);
      }
      record.exec();
      record.reset();
    }
    for (const auto& [batch_id, delta] : deltas) ApplyCounterDelta(db, batch_id, delta, now_ms);
    return Progress::kDone;
  }

  void Complete() override {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (auto* f = std::get_if<OutcomeBuffer::Finished>(&entries_[i]))
        f->done(static_cast<bool>(applied_[i]));
    }
  }

  void Fail(SQLite::Database&, const Status& status) override {
    spdlog::error("could not record {} session outcome(s): {}", entries_.size(), status.ToString());
    for (auto& e : entries_) {
      if (auto* f = std::get_if<OutcomeBuffer::Finished>(&e)) f->done(status);
    }
  }

 private:
  static SessionState TargetState(SessionOutcome::Target t) {
    switch (t) {
      case SessionOutcome::Target::kCompleted:
        return SessionState::kCompleted;
      case SessionOutcome::Target::kError:
        return SessionState::kError;
      case SessionOutcome::Target::kCanceled:
        return SessionState::kCanceled;
      case SessionOutcome::Target::kRequeue:
        return SessionState::kUninitialized;
    }
    return SessionState::kError;
  }

  OutcomeBuffer& buffer_;
  std::vector<OutcomeBuffer::Entry> entries_;
  std::vector<bool> applied_;
};

void OutcomeBuffer::SaveExecutionState(int64_t session_id, std::string state_json,
                                       int64_t started_at_ms) {
  Add(SavedState{session_id, std::move(state_json), started_at_ms});
}

void OutcomeBuffer::FinishSession(SessionOutcome outcome, Callback<bool> done) {
  Add(Finished{std::move(outcome), std::move(done)});
}

void OutcomeBuffer::Add(Entry entry) {
  bool submit = false;
  {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(entry));
    submit = !flush_queued_;
    flush_queued_ = true;
  }
  if (!submit) return;
  Status s = writer_.SubmitUnbounded(std::make_unique<OutcomeFlushJob>(*this));
  if (!s.ok()) {
    // The writer is stopping: nothing will record these. Sessions left in_progress are put
    // back in the queue at the next start, so no work is lost, only redone.
    for (Entry& e : TakeAll()) {
      if (auto* f = std::get_if<Finished>(&e)) f->done(s);
    }
  }
}

std::vector<OutcomeBuffer::Entry> OutcomeBuffer::TakeAll() {
  std::lock_guard lock(mu_);
  flush_queued_ = false;
  return std::exchange(pending_, {});
}

}  // namespace batchd::storage
