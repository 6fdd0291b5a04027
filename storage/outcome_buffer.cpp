#include "storage/outcome_buffer.h"

#include <map>
#include <unordered_map>

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
    // A session saved and finished in the same flush (a quick op) gets one session_state
    // write instead of two: states are held back here and merged into the outcome's row.
    std::unordered_map<int64_t, const OutcomeBuffer::SavedState*> states;
    for (const auto& e : entries_) {
      if (auto* saved = std::get_if<OutcomeBuffer::SavedState>(&e)) {
        states[saved->session_id] = saved;
      }
    }
    SQLite::Statement move(db,
                           "UPDATE session SET state = ?, not_before = ? "
                           "WHERE id = ? AND state = 1");
    // Columns not given keep their value on conflict (coalesce with the stored row).
    SQLite::Statement record(db,
                             "INSERT INTO session_state (session_id, state, started_at, result, "
                             "error_kind, error_message, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (session_id) DO UPDATE SET "
                             "state = coalesce(excluded.state, state), "
                             "started_at = coalesce(excluded.started_at, started_at), "
                             "result = excluded.result, error_kind = excluded.error_kind, "
                             "error_message = excluded.error_message, "
                             "finished_at = excluded.finished_at");
    std::map<int64_t, CounterDelta> deltas;
    int64_t now_ms = 0;
    applied_.assign(entries_.size(), false);
    for (size_t i = 0; i < entries_.size(); ++i) {
      const auto* finished = std::get_if<OutcomeBuffer::Finished>(&entries_[i]);
      if (finished == nullptr) continue;
      const SessionOutcome& o = finished->outcome;
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

      record.clearBindings();
      record.bind(1, o.session_id);
      if (auto st = states.find(o.session_id); st != states.end()) {
        BindState(record, *st->second);
        states.erase(st);
      }
      if (o.result_json) record.bind(4, *o.result_json);
      if (!o.error_kind.empty()) {
        record.bind(5, o.error_kind);
        record.bind(6, o.error_message);
      }
      if (o.target != SessionOutcome::Target::kRequeue) record.bind(7, o.finished_at_ms);
      record.exec();
      record.reset();
      if (buffer_.observer_) buffer_.observer_->OnFinished(db, o);
    }
    // States of sessions still running (or whose outcome did not apply).
    SQLite::Statement save(db,
                           "INSERT INTO session_state (session_id, state, started_at) "
                           "VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
                           "state = excluded.state, started_at = excluded.started_at");
    for (const auto& [id, saved] : states) {
      save.bind(1, id);
      BindState(save, *saved);
      save.exec();
      save.reset();
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
  // Binds parameters 2 (state) and 3 (started_at).
  static void BindState(SQLite::Statement& s, const OutcomeBuffer::SavedState& saved) {
    s.bind(2, saved.state_blob.data(), static_cast<int>(saved.state_blob.size()));
    s.bind(3, saved.started_at_ms);
  }

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

void OutcomeBuffer::SaveExecutionState(int64_t session_id, std::string_view state_json,
                                       int64_t started_at_ms) {
  Add(SavedState{session_id, CompressJson(state_json), started_at_ms});
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
