#include "storage/outcome_buffer.h"

#include <algorithm>
#include <utility>

#include <SQLiteCpp/Statement.h>
#include <spdlog/spdlog.h>

#include "storage/batch_counters.h"
#include "storage/json_blob.h"
#include "storage/session_moves.h"

namespace batchd::storage {
namespace {

// Binds parameters 2 (state) and 3 (started_at) of the session_state upserts.
void BindState(SQLite::Statement& s, const OutcomeBuffer::SavedState& saved) {
  s.bind(2, saved.state_blob.data(), static_cast<int>(saved.state_blob.size()));
  s.bind(3, saved.started_at_ms);
}

// The states saved in one flush, by session id, so that an outcome in the same flush can take
// its session's state into its own row. A sorted vector: one allocation per flush.
class StatesById {
 public:
  explicit StatesById(const std::vector<OutcomeBuffer::Entry>& entries) {
    for (const auto& e : entries) {
      if (auto* saved = std::get_if<OutcomeBuffer::SavedState>(&e)) {
        states_.emplace_back(saved->session_id, saved);
      }
    }
    // Stable, so that if a session's state was saved twice, the latest is the last of its run.
    std::stable_sort(states_.begin(), states_.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
  }

  // The latest state saved for `session_id`, unless an outcome took it already; it is taken.
  const OutcomeBuffer::SavedState* Take(int64_t session_id) {
    auto after = std::upper_bound(states_.begin(), states_.end(), session_id,
                                  [](int64_t id, const auto& x) { return id < x.first; });
    if (after == states_.begin() || (after - 1)->first != session_id) return nullptr;
    return std::exchange((after - 1)->second, nullptr);
  }

  // The latest untaken state of each session, in id order.
  template <typename Fn>
  void ForEachUntaken(Fn fn) const {
    for (size_t i = 0; i < states_.size(); ++i) {
      const bool latest = i + 1 == states_.size() || states_[i + 1].first != states_[i].first;
      if (latest && states_[i].second != nullptr) fn(*states_[i].second);
    }
  }

 private:
  std::vector<std::pair<int64_t, const OutcomeBuffer::SavedState*>> states_;
};

// Counter deltas of one flush. A flush touches few batches, so a small vector beats a map.
class DeltasByBatch {
 public:
  CounterDelta& For(int64_t batch_id) {
    for (auto& [id, delta] : deltas_) {
      if (id == batch_id) return delta;
    }
    return deltas_.emplace_back(batch_id, CounterDelta{}).second;
  }
  const std::vector<std::pair<int64_t, CounterDelta>>& all() const { return deltas_; }

 private:
  std::vector<std::pair<int64_t, CounterDelta>> deltas_;
};

}  // namespace

class OutcomeFlushJob : public WriteJob {
 public:
  OutcomeFlushJob(OutcomeBuffer& buffer, StatementCache& statements)
      : buffer_(buffer), statements_(statements) {}

  Result<Progress> Step(SQLite::Database&) override {
    entries_ = buffer_.TakeAll();
    try {
      Write();
    } catch (...) {
      // Before the claims later in this round run: they must not outrun these outcomes.
      buffer_.holding_.store(true);
      throw;
    }
    return Progress::kDone;
  }

  void Complete() override {
    buffer_.OnStored();
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (auto* f = std::get_if<OutcomeBuffer::Finished>(&entries_[i])) {
        f->done(static_cast<bool>(applied_[i]));
      }
    }
  }

  // Nothing is lost: the entries are written again later (or given up on at close).
  void Fail(SQLite::Database&, const Status& status) override {
    buffer_.Requeue(std::move(entries_), status);
  }

 private:
  void Write() {
    // A session saved and finished in the same flush (a quick op) gets one session_state
    // write instead of two: its state goes into the outcome's row.
    StatesById states(entries_);
    DeltasByBatch deltas;
    std::vector<OutcomeRow> records;
    records.reserve(entries_.size());
    int64_t now_ms = 0;
    std::vector<const SessionOutcome*> outcomes;
    std::vector<size_t> entry_of;  // outcomes[k] is in entries_[entry_of[k]]
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (const auto* finished = std::get_if<OutcomeBuffer::Finished>(&entries_[i])) {
        outcomes.push_back(&finished->outcome);
        entry_of.push_back(i);
      }
    }
    // Checkpoints first: every checkpoint in this flush was saved before any outcome of the same
    // run (a session's last checkpoint precedes its outcome), so it still finds the session
    // in progress, and an outcome in this flush then ends the session after it.
    for (const auto& e : entries_) {
      if (const auto* p = std::get_if<CheckpointUpdate>(&e)) SaveCheckpoint(*p);
    }
    const std::vector<bool> moved = MoveFinishedSessions(statements_, outcomes);
    applied_.assign(entries_.size(), false);
    for (size_t k = 0; k < outcomes.size(); ++k) {
      applied_[entry_of[k]] = moved[k];
      if (!moved[k]) continue;  // it had already left in_progress: count nothing twice
      const SessionOutcome& o = *outcomes[k];
      Move(deltas.For(o.batch_id), SessionState::kInProgress, TargetState(o.target));
      now_ms = std::max(now_ms, o.finished_at_ms);
      records.push_back({&o, states.Take(o.session_id)});
      if (buffer_.observer_) buffer_.observer_->OnFinished(statements_.db(), o);
    }
    RecordOutcomes(records);
    FoldResults(records);
    // States of sessions still running (or whose outcome did not apply).
    states.ForEachUntaken([&](const OutcomeBuffer::SavedState& saved) { SaveState(saved); });
    for (const auto& [batch_id, delta] : deltas.all()) {
      ApplyCounterDelta(statements_, batch_id, delta, now_ms);
    }
  }

  // An applied outcome's session_state row: its columns, with the state saved in this flush
  // if there is one.
  struct OutcomeRow {
    const SessionOutcome* outcome;
    const OutcomeBuffer::SavedState* saved;  // nullptr: keep the stored state
  };
  static constexpr int kColumnsPerRow = 7;
  static constexpr size_t kRowsPerInsert = 32;

  // Writes the rows kRowsPerInsert at a time: one multi-row statement costs much less than as
  // many single-row ones (each step, reset and rebinding is per statement, not per row).
  void RecordOutcomes(const std::vector<OutcomeRow>& rows) {
    static const GeneratedSql many(UpsertOutcomeSql(kRowsPerInsert));
    static const GeneratedSql one(UpsertOutcomeSql(1));
    size_t next = 0;
    for (; rows.size() - next >= kRowsPerInsert; next += kRowsPerInsert) {
      auto s = statements_.Use(many);
      for (size_t r = 0; r < kRowsPerInsert; ++r) {
        BindOutcomeRow(*s, static_cast<int>(r) * kColumnsPerRow, rows[next + r]);
      }
      s->exec();
    }
    for (; next < rows.size(); ++next) {
      auto s = statements_.Use(one);
      BindOutcomeRow(*s, 0, rows[next]);
      s->exec();
    }
  }

  // Columns not given keep their stored value on conflict (coalesce with the stored row).
  static std::string UpsertOutcomeSql(size_t rows) {
    std::string sql =
        "INSERT INTO session_state (session_id, state, started_at, result, error_kind, "
        "error_message, finished_at) VALUES ";
    for (size_t r = 0; r < rows; ++r) sql += r == 0 ? "(?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?)";
    sql +=
        " ON CONFLICT (session_id) DO UPDATE SET "
        "state = coalesce(excluded.state, state), "
        "started_at = coalesce(excluded.started_at, started_at), "
        "result = excluded.result, error_kind = excluded.error_kind, "
        "error_message = excluded.error_message, finished_at = excluded.finished_at";
    return sql;
  }

  // Binds one row's columns at parameters offset+1 .. offset+7; NULLs stay unbound.
  static void BindOutcomeRow(SQLite::Statement& s, int offset, const OutcomeRow& row) {
    const SessionOutcome& o = *row.outcome;
    s.bind(offset + 1, o.session_id);
    if (row.saved != nullptr) {
      // No copy: the entries outlive the statement's use (the lease resets it within Step).
      s.bindNoCopy(offset + 2, row.saved->state_blob.data(),
                   static_cast<int>(row.saved->state_blob.size()));
      s.bind(offset + 3, row.saved->started_at_ms);
    }
    if (o.result_json) s.bind(offset + 4, *o.result_json);
    if (!o.error_kind.empty()) {
      s.bind(offset + 5, o.error_kind);
      s.bind(offset + 6, o.error_message);
    }
    if (o.target != SessionOutcome::Target::kRequeue) s.bind(offset + 7, o.finished_at_ms);
  }

  // Upserts the session's checkpoint columns, only while the session is in progress.
  void SaveCheckpoint(const CheckpointUpdate& p) {
    auto save = statements_.Use(
        "INSERT INTO session_state (session_id, chunks_done, chunks_total, checkpoint) "
        "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM session WHERE id = ?1 AND state = 1) "
        "ON CONFLICT (session_id) DO UPDATE SET chunks_done = excluded.chunks_done, "
        "chunks_total = excluded.chunks_total, checkpoint = excluded.checkpoint");
    save->bind(1, p.session_id);
    save->bind(2, p.chunks_done);
    save->bind(3, p.chunks_total);
    save->bindNoCopy(4, p.checkpoint_json);
    save->exec();
  }

  // Folds the results of the sessions completed in this flush into their batches' results,
  // reading and writing each batch's result once.
  void FoldResults(const std::vector<OutcomeRow>& rows) {
    if (!buffer_.merge_results_) return;
    std::vector<std::pair<int64_t, std::optional<std::string>>> folded;  // few batches a flush
    for (const OutcomeRow& row : rows) {
      const SessionOutcome& o = *row.outcome;
      if (o.target != SessionOutcome::Target::kCompleted || !o.result_json || o.op.empty()) {
        continue;
      }
      auto it = std::find_if(folded.begin(), folded.end(),
                             [&](const auto& f) { return f.first == o.batch_id; });
      if (it == folded.end()) {
        auto read = statements_.Use("SELECT result FROM batch WHERE id = ?");
        read->bind(1, o.batch_id);
        std::optional<std::string> current;
        if (read->executeStep() && !read->getColumn(0).isNull()) {
          current = read->getColumn(0).getString();
        }
        folded.emplace_back(o.batch_id, std::move(current));
        it = folded.end() - 1;
      }
      Result<std::optional<std::string>> merged =
          buffer_.merge_results_(o.op, it->second, *o.result_json);
      if (!merged.ok()) {
        spdlog::warn("result of session {} not folded into its batch's: {}", o.session_id,
                     merged.status().ToString());
      } else if (*merged) {
        it->second = std::move(*merged);
      }
    }
    for (const auto& [batch_id, result] : folded) {
      if (!result) continue;
      auto write = statements_.Use("UPDATE batch SET result = ? WHERE id = ?");
      write->bind(1, *result);
      write->bind(2, batch_id);
      write->exec();
    }
  }

  void SaveState(const OutcomeBuffer::SavedState& saved) {
    auto save = statements_.Use(
        "INSERT INTO session_state (session_id, state, started_at) "
        "VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
        "state = excluded.state, started_at = excluded.started_at");
    save->bind(1, saved.session_id);
    BindState(*save, saved);
    save->exec();
  }

  OutcomeBuffer& buffer_;
  StatementCache& statements_;
  std::vector<OutcomeBuffer::Entry> entries_;
  std::vector<bool> applied_;
};

void OutcomeBuffer::SaveExecutionState(int64_t session_id, std::string_view state_json,
                                       int64_t started_at_ms) {
  Add(SavedState{session_id, CompressJson(state_json), started_at_ms});
}

void OutcomeBuffer::SaveCheckpoint(CheckpointUpdate checkpoint) { Add(std::move(checkpoint)); }

void OutcomeBuffer::FinishSession(SessionOutcome outcome, Callback<bool> done) {
  Add(Finished{std::move(outcome), std::move(done)});
}

void OutcomeBuffer::Add(Entry entry) {
  bool submit = false;
  {
    MutexLock lock(mu_);
    AppendLocked(std::move(entry));
    if (holding_.load()) unstored_.store(pending_.size(), std::memory_order_relaxed);
    // While a retry is due, new entries wait for it: flushing them now would only fail again.
    submit = !flush_queued_ && !retry_due_;
    if (submit) flush_queued_ = true;
  }
  if (submit) SubmitFlush();
}

void OutcomeBuffer::AppendLocked(Entry entry) {
  if (holding_.load()) {
    if (auto* p = std::get_if<CheckpointUpdate>(&entry)) {
      // Only a session's latest checkpoint matters; a long outage must not pile them up.
      for (Entry& e : pending_) {
        auto* earlier = std::get_if<CheckpointUpdate>(&e);
        if (earlier != nullptr && earlier->session_id == p->session_id) {
          *earlier = std::move(*p);
          return;
        }
      }
    }
  }
  pending_.push_back(std::move(entry));
}

void OutcomeBuffer::SubmitFlush() {
  Status s =
      writer_.SubmitUnbounded(std::make_unique<OutcomeFlushJob>(*this, writer_.statements()));
  if (!s.ok()) {
    // The writer is stopping: nothing will record these. Sessions left in_progress are put
    // back in the queue at the next start, so no work is lost, only redone.
    std::vector<Entry> taken = TakeAll();
    GiveUp(taken, s);
  }
}

void OutcomeBuffer::GiveUp(std::vector<Entry>& entries, const Status& why) {
  for (Entry& e : entries) {
    if (auto* f = std::get_if<Finished>(&e)) f->done(why);
  }
}

Status OutcomeBuffer::ReadyForClaims() const {
  if (!holding_.load()) return Status::Ok();
  return Status::Unavailable(
      "outcomes of finished sessions are not stored yet (the database cannot commit); "
      "claiming resumes once they are");
}

void OutcomeBuffer::Requeue(std::vector<Entry> entries, const Status& why) {
  holding_.store(true);
  std::chrono::milliseconds delay{0};
  size_t held = 0;
  bool schedule = false;
  {
    MutexLock lock(mu_);
    if (stopping_) {
      held = entries.size();
    } else {
      std::vector<Entry> newer;
      newer.swap(pending_);
      pending_.reserve(entries.size() + newer.size());
      for (Entry& e : entries) pending_.push_back(std::move(e));
      for (Entry& e : newer) AppendLocked(std::move(e));
      entries.clear();
      unstored_.store(pending_.size(), std::memory_order_relaxed);
      held = pending_.size();
      // A flush queued since takes the entries back with it; otherwise the timer brings one.
      if (!flush_queued_ && !retry_due_) {
        retry_due_ = schedule = true;
        delay = backoff_.Next();
      }
    }
  }
  if (!entries.empty()) {
    spdlog::warn("{} session outcome(s) and state(s) not recorded before the store closed: {}",
                 held, why.ToString());
    GiveUp(entries, why);
    return;
  }
  if (std::optional<int64_t> suppressed = retry_log_.Admit()) {
    spdlog::warn(
        "{} session outcome(s) and state(s) not stored yet, kept and tried again until "
        "they are: {}{}",
        held, why.ToString(), SuppressedSuffix(*suppressed));
  }
  if (schedule && !retries_.After(delay, [this] { OnRetryDue(); })) {
    // The store is closing: one last try now, which gives up if it fails.
    OnRetryDue();
  }
}

void OutcomeBuffer::OnRetryDue() {
  bool submit = false;
  {
    MutexLock lock(mu_);
    retry_due_ = false;
    submit = !flush_queued_ && !pending_.empty();
    if (submit) flush_queued_ = true;
  }
  if (submit) SubmitFlush();
}

void OutcomeBuffer::OnStored() {
  MutexLock lock(mu_);
  if (!holding_.load()) return;
  holding_.store(false);
  unstored_.store(0, std::memory_order_relaxed);
  backoff_.Reset();
}

void OutcomeBuffer::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // Whatever waits for the timer goes now, while the writer still takes jobs.
  OnRetryDue();
}

std::vector<OutcomeBuffer::Entry> OutcomeBuffer::TakeAll() {
  MutexLock lock(mu_);
  flush_queued_ = false;
  std::vector<Entry> taken;
  taken.swap(pending_);
  // The next flush is likely about as big: growing to it again would copy it log2(n) times.
  pending_.reserve(taken.size());
  return taken;
}

}  // namespace batchd::storage
