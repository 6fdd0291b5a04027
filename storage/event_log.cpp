#include "storage/event_log.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <spdlog/spdlog.h>

#include "core/log_throttle.h"

namespace batchd::storage {
namespace {

// Rows one retention step deletes at most: one bounded transaction step, so a large backlog is
// trimmed in slices between other writes (see Writer).
constexpr int64_t kRetentionSliceRows = 10'000;

}  // namespace

// Writes the coalesced progress events of one interval.
class ProgressJob : public WriteJob {
 public:
  explicit ProgressJob(EventLog& log) : log_(log) {}
  Result<Progress> Step(SQLite::Database& db) override {
    log_.WriteProgress(db);
    return Progress::kDone;
  }
  void Complete() override {}
  void Fail(SQLite::Database&, const Status& status) override {
    // Repeats every interval while the database cannot commit: once a minute is enough.
    static LogThrottle throttle;
    if (std::optional<int64_t> suppressed = throttle.Admit()) {
      spdlog::warn("progress events not written: {}{}", status.ToString(),
                   SuppressedSuffix(*suppressed));
    }
  }

 private:
  EventLog& log_;
};

// Deletes what retention no longer keeps, a bounded slice per step.
class RetentionJob : public WriteJob {
 public:
  RetentionJob(EventLog& log, std::function<void(Result<int64_t>)> done)
      : log_(log), done_(std::move(done)) {}
  Result<Progress> Step(SQLite::Database& db) override {
    if (deleted_ == 0) {
      MutexLock lock(log_.mu_);
      log_.seq_at_last_retention_ = log_.handed_seq_;
    }
    const auto age =
        std::chrono::duration_cast<std::chrono::milliseconds>(log_.options_.retention_age);
    const int64_t n =
        DeleteExpiredEvents(db, log_.options_.retention_events, log_.clock_() - age.count(),
                            kRetentionSliceRows, log_.RetentionBound());
    deleted_ += n;
    return n == kRetentionSliceRows ? Progress::kMore : Progress::kDone;
  }
  void Complete() override { Finish(deleted_); }
  void Fail(SQLite::Database&, const Status& status) override {
    static LogThrottle throttle;
    if (std::optional<int64_t> suppressed = throttle.Admit()) {
      spdlog::warn("event retention failed: {}{}", status.ToString(),
                   SuppressedSuffix(*suppressed));
    }
    Finish(status);
  }

 private:
  void Finish(Result<int64_t> r) {
    {
      MutexLock lock(log_.mu_);
      log_.retention_job_queued_ = false;
    }
    if (done_) done_(std::move(r));
  }
  EventLog& log_;
  std::function<void(Result<int64_t>)> done_;
  int64_t deleted_ = 0;
};

EventLog::EventLog(EventLogOptions options, EventPublisher& publisher, WallClock clock)
    : options_(options),
      publisher_(publisher),
      clock_(std::move(clock)),
      coalescer_({.interval = options.progress_interval,
                  .max_reports_per_round = options.session_progress_per_interval}),
      policy_(options.session_events) {}

EventLog::~EventLog() { Stop(); }

void EventLog::Attach(SQLite::Database& db) {
  handed_seq_ = LatestEventSeq(db);
  sqlite3_update_hook(db.getHandle(), &EventLog::OnRowChanged, this);
}

void EventLog::Start(Writer& writer) {
  writer_ = &writer;
  ticker_ = std::thread([this] { TickerLoop(); });
}

void EventLog::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (ticker_.joinable()) ticker_.join();
}

void EventLog::WakeTicker() {
  {
    MutexLock lock(mu_);
    kicked_ = true;
  }
  wake_.Signal();
}

// Called by SQLite for every row the writer connection changes: per session row during a
// drain, so it does as little as possible (the table name's first letter rules out `session`).
void EventLog::OnRowChanged(void* self, int op, const char*, const char* table, long long rowid) {
  auto* log = static_cast<EventLog*>(self);
  if (table[0] == 'b' && std::strcmp(table, "batch") == 0) {
    // A round of outcomes updates the same batch row once per session: note it once.
    if (op != SQLITE_DELETE &&
        (log->changed_batches_.empty() || log->changed_batches_.back() != rowid)) {
      log->changed_batches_.push_back(rowid);
    }
  } else if (table[0] == 'e' && op == SQLITE_INSERT && std::strcmp(table, "event") == 0) {
    log->events_written_ = true;  // rows the batch triggers insert are reported too
  }
}

void EventLog::AfterCommit(SQLite::Database& db) {
  bool wake = false;
  if (!changed_batches_.empty()) {
    // Only the first change after a progress round wakes the ticker: a drain commits hundreds
    // of rounds a second, and the ticker needs to hear of them once per interval.
    wake = coalescer_.BatchesChanged(changed_batches_);
    changed_batches_.clear();
  }
  if (events_written_) {
    events_written_ = false;
    Publish(db);
  }
  if (wake) WakeTicker();
}

void EventLog::Publish(SQLite::Database& db) {
  try {
    if (!newest_seq_) {
      newest_seq_ = std::make_unique<SQLite::Statement>(db, "SELECT max(seq) FROM event");
    }
    // Cheap check first: most rounds that touched a batch wrote no event.
    newest_seq_->reset();
    if (!newest_seq_->executeStep() || newest_seq_->getColumn(0).isNull()) return;
    const int64_t newest = newest_seq_->getColumn(0).getInt64();
    newest_seq_->reset();
    if (newest <= handed_seq_) return;
    if (publisher_.Full() ||
        newest - handed_seq_ > static_cast<int64_t>(options_.publisher_queue_events)) {
      // The publisher would not keep them: it reads them from the log when it gets there.
      publisher_.PublishRange(handed_seq_ + 1, newest);
      handed_seq_ = newest;
    } else {
      Result<EventPage> page = ReadEvents(
          db,
          EventQuery{.after_seq = handed_seq_, .limit = static_cast<int>(newest - handed_seq_)});
      if (!page.ok()) {
        spdlog::error("publishing events: {}", page.status().ToString());
        return;
      }
      if (page->events.empty()) return;
      handed_seq_ = page->events.back().seq;
      publisher_.Publish(std::move(page->events));
    }
    bool trim = false;
    {
      MutexLock lock(mu_);
      const int64_t slack = std::max<int64_t>(100, options_.retention_events / 10);
      if (handed_seq_ - seq_at_last_retention_ > slack && !retention_job_queued_) {
        trim = retention_wanted_ = true;
      }
    }
    if (trim) wake_.Signal();
  } catch (const SQLite::Exception& e) {
    spdlog::error("publishing events: {}", e.what());
  }
}

int64_t EventLog::RetentionBound() const {
  return std::min(handed_seq_, publisher_.OldestUnread() - 1);
}

void EventLog::BeforeClose(SQLite::Database&) {
  appender_.reset();
  newest_seq_.reset();
}

EventAppender& EventLog::Appender(SQLite::Database& db) {
  if (!appender_) appender_ = std::make_unique<EventAppender>(db);
  return *appender_;
}

void EventLog::AppendSessionState(SQLite::Database& db, const BatchInfo& info, int64_t session_id,
                                  SessionState from, SessionState to, int64_t attempt,
                                  const SessionOutcome* outcome, int64_t now_ms) {
  Appender(db).Append(
      SessionStateEvent(info.public_id, session_id, from, to, attempt, outcome, now_ms));
}

void EventLog::OnClaimed(SQLite::Database& db, std::span<const ClaimedSession> claimed) {
  if (claimed.empty()) return;
  const BatchInfo* info = batch_info_.Find(db, claimed.front().batch_id);
  if (info == nullptr || info->sessions > options_.session_events.every_transition_max_sessions) {
    return;  // the common case at scale: one lookup per batch per claim, nothing written
  }
  const BatchInfo batch = *info;  // the cache may be cleared below
  const int64_t now = clock_();
  for (const ClaimedSession& c : claimed) {
    switch (policy_.Judge(batch.sessions, false, false, now)) {
      case SessionEventPolicy::Verdict::kEmit:
        AppendSessionState(db, batch, c.id, SessionState::kUninitialized, SessionState::kInProgress,
                           c.attempts, nullptr, now);
        break;
      case SessionEventPolicy::Verdict::kSuppress:
        progress_.CountSuppressed(c.batch_id);
        break;
      case SessionEventPolicy::Verdict::kIgnore:
        break;
    }
  }
}

void EventLog::OnFinished(SQLite::Database& db, const SessionOutcome& o) {
  progress_.ForgetSession(o.session_id);
  const BatchInfo* info = batch_info_.Find(db, o.batch_id);
  if (info == nullptr) return;
  const bool carries_error = !o.error_kind.empty() && o.error_kind != "canceled";
  switch (policy_.Judge(info->sessions, carries_error, false, o.finished_at_ms)) {
    case SessionEventPolicy::Verdict::kIgnore:
      return;
    case SessionEventPolicy::Verdict::kSuppress:
      progress_.CountSuppressed(o.batch_id);
      return;
    case SessionEventPolicy::Verdict::kEmit:
      break;
  }
  const BatchInfo batch = *info;
  // The outcome does not carry the attempt number; the few outcomes that become events read it.
  SQLite::Statement attempts(db, "SELECT attempts FROM session WHERE id = ?");
  attempts.bind(1, o.session_id);
  const int64_t attempt = attempts.executeStep() ? attempts.getColumn(0).getInt64() : 0;
  AppendSessionState(db, batch, o.session_id, SessionState::kInProgress, TargetState(o.target),
                     attempt, &o, o.finished_at_ms);
}

void EventLog::OnSessionRequest(SQLite::Database& db, const SessionRecord& before,
                                const SessionRecord& after) {
  if (before.state == after.state) return;
  const BatchInfo* info = batch_info_.Find(db, after.batch_id);
  if (info == nullptr) return;
  const int64_t now = clock_();
  switch (policy_.Judge(info->sessions, false, true, now)) {
    case SessionEventPolicy::Verdict::kEmit: {
      const BatchInfo batch = *info;
      AppendSessionState(db, batch, after.id, before.state, after.state, after.attempts, nullptr,
                         now);
      break;
    }
    case SessionEventPolicy::Verdict::kSuppress:
      progress_.CountSuppressed(after.batch_id);
      break;
    case SessionEventPolicy::Verdict::kIgnore:
      break;
  }
}

void EventLog::ReportLiveProgress(SessionLiveProgress progress) {
  if (coalescer_.Report(std::move(progress))) WakeTicker();
}

void EventLog::Trim(std::function<void(Result<int64_t>)> done) {
  {
    MutexLock lock(mu_);
    retention_job_queued_ = true;
  }
  Status s = writer_ != nullptr
                 ? writer_->SubmitUnbounded(std::make_unique<RetentionJob>(*this, done))
                 : Status::Unavailable("the event log is not running");
  if (!s.ok()) {
    {
      MutexLock lock(mu_);
      retention_job_queued_ = false;
    }
    done(s);
  }
}

void EventLog::TickerLoop() {
  using Clock = std::chrono::steady_clock;
  MutexLock lock(mu_);
  Clock::time_point next_retention = Clock::now() + options_.retention_interval;
  while (!stopping_) {
    // Cleared before the coalescer is asked: news after this wakes the wait below.
    kicked_ = false;
    if (coalescer_.StartRoundIfDue()) {
      lock.Unlock();
      Status s = writer_->SubmitUnbounded(std::make_unique<ProgressJob>(*this));
      if (!s.ok()) coalescer_.CancelRound();  // stopping
      lock.Lock();
      continue;
    }
    const std::optional<std::chrono::milliseconds> progress_due = coalescer_.DueIn();
    const Clock::time_point now = Clock::now();
    if (now >= next_retention || retention_wanted_) {
      next_retention = now + options_.retention_interval;
      retention_wanted_ = false;
      if (!retention_job_queued_) {
        retention_job_queued_ = true;
        lock.Unlock();
        Status s = writer_->SubmitUnbounded(std::make_unique<RetentionJob>(*this, nullptr));
        lock.Lock();
        if (!s.ok()) retention_job_queued_ = false;
      }
      continue;
    }
    Clock::time_point wake_at = next_retention;
    if (progress_due) wake_at = std::min(wake_at, now + *progress_due);
    while (!stopping_ && !kicked_ && !retention_wanted_) {
      if (wake_.WaitUntil(mu_, wake_at) == std::cv_status::timeout) break;
    }
  }
}

void EventLog::WriteProgress(SQLite::Database& db) {
  LiveProgressCoalescer::Round round = coalescer_.TakeRound();
  if (round.more) WakeTicker();  // the rest go next interval
  for (int64_t deleted : progress_.Write(db, Appender(db), round, clock_())) {
    batch_info_.Forget(deleted);
  }
}

}  // namespace batchd::storage
