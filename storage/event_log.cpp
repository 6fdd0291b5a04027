#include "storage/event_log.h"

#include <sqlite3.h>

#include <cstring>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "core/log_throttle.h"

namespace batchd::storage {
namespace {

// Rows one retention step deletes at most: one bounded transaction step, so a large backlog is
// trimmed in slices between other writes (see Writer).
constexpr int64_t kRetentionSliceRows = 10'000;
// Reports kept waiting at most; past it the oldest sessions' reports are dropped (a session
// reports again soon enough, and only the latest report per session matters).
constexpr size_t kMaxPendingReports = 100'000;
// Batches remembered for session events; cleared when exceeded (it refills on demand).
constexpr size_t kMaxBatchInfo = 4096;

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
      std::lock_guard lock(log_.mu_);
      log_.seq_at_last_retention_ = log_.published_seq_;
    }
    const auto age =
        std::chrono::duration_cast<std::chrono::milliseconds>(log_.options_.retention_age);
    const int64_t n =
        DeleteExpiredEvents(db, log_.options_.retention_events, UnixMillis() - age.count(),
                            kRetentionSliceRows, log_.published_seq_);
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
      std::lock_guard lock(log_.mu_);
      log_.retention_job_queued_ = false;
    }
    if (done_) done_(std::move(r));
  }
  EventLog& log_;
  std::function<void(Result<int64_t>)> done_;
  int64_t deleted_ = 0;
};

EventLog::EventLog(EventLogOptions options, EventListener listener)
    : options_(options), listener_(std::move(listener)), policy_(options.session_events) {}

EventLog::~EventLog() { Stop(); }

void EventLog::Attach(SQLite::Database& db) {
  published_seq_ = LatestEventSeq(db);
  sqlite3_update_hook(db.getHandle(), &EventLog::OnRowChanged, this);
}

void EventLog::Start(Writer& writer) {
  writer_ = &writer;
  ticker_ = std::thread([this] { TickerLoop(); });
}

void EventLog::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

// Called by SQLite for every row the writer connection changes: per session row during a
// drain, so it does as little as possible (the table name's first letter rules out `session`).
void EventLog::OnRowChanged(void* self, int op, const char*, const char* table, long long rowid) {
  auto* log = static_cast<EventLog*>(self);
  if (table[0] == 'b' && std::strcmp(table, "batch") == 0) {
    if (op != SQLITE_DELETE) log->changed_batches_.push_back(rowid);
  } else if (table[0] == 'e' && op == SQLITE_INSERT && std::strcmp(table, "event") == 0) {
    log->events_written_ = true;  // rows the batch triggers insert are reported too
  }
}

void EventLog::AfterCommit(SQLite::Database& db) {
  bool want_progress = false;
  if (!changed_batches_.empty()) {
    progress_candidates_.insert(changed_batches_.begin(), changed_batches_.end());
    changed_batches_.clear();
    want_progress = true;
  }
  if (events_written_) {
    events_written_ = false;
    Publish(db);
  }
  if (want_progress) {
    // Only the first change after a progress job wakes the ticker: a drain commits hundreds of
    // rounds a second, and the ticker needs to hear of them once per interval.
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      wake = !progress_wanted_;
      progress_wanted_ = true;
    }
    if (wake) wake_.notify_one();
  }
}

void EventLog::Publish(SQLite::Database& db) {
  try {
    if (!tail_) {
      tail_ = std::make_unique<SQLite::Statement>(db, "SELECT seq FROM event WHERE seq > ?");
    }
    // Cheap check first: most rounds that touched a batch wrote no event.
    tail_->reset();
    tail_->bind(1, published_seq_);
    if (!tail_->executeStep()) return;
    tail_->reset();
    Result<EventPage> page =
        ReadEvents(db, EventQuery{.after_seq = published_seq_, .limit = 1 << 20});
    if (!page.ok()) {
      spdlog::error("publishing events: {}", page.status().ToString());
      return;
    }
    if (page->events.empty()) return;
    published_seq_ = page->events.back().seq;
    if (listener_) listener_(page->events);
    bool trim = false;
    {
      std::lock_guard lock(mu_);
      const int64_t slack = std::max<int64_t>(100, options_.retention_events / 10);
      if (published_seq_ - seq_at_last_retention_ > slack && !retention_job_queued_) {
        trim = retention_wanted_ = true;
      }
    }
    if (trim) wake_.notify_one();
  } catch (const SQLite::Exception& e) {
    spdlog::error("publishing events: {}", e.what());
  }
}

void EventLog::BeforeClose(SQLite::Database&) {
  appender_.reset();
  tail_.reset();
}

EventAppender& EventLog::Appender(SQLite::Database& db) {
  if (!appender_) appender_ = std::make_unique<EventAppender>(db);
  return *appender_;
}

const EventLog::BatchInfo* EventLog::Info(SQLite::Database& db, int64_t batch_id) {
  if (batch_id == last_info_id_ && last_info_ != nullptr) return last_info_;
  auto it = batch_info_.find(batch_id);
  if (it == batch_info_.end()) {
    if (batch_info_.size() >= kMaxBatchInfo) {
      batch_info_.clear();
      last_info_ = nullptr;
    }
    SQLite::Statement s(db, "SELECT public_id, session_count FROM batch WHERE id = ?");
    s.bind(1, batch_id);
    if (!s.executeStep()) return nullptr;
    it = batch_info_
             .emplace(batch_id, BatchInfo{s.getColumn(0).getString(),
                                          static_cast<uint64_t>(s.getColumn(1).getInt64())})
             .first;
  }
  last_info_id_ = batch_id;
  last_info_ = &it->second;
  return last_info_;
}

std::optional<int64_t> EventLog::BatchIdOf(SQLite::Database& db, const std::string& public_id) {
  SQLite::Statement s(db, "SELECT id FROM batch WHERE public_id = ?");
  s.bind(1, public_id);
  if (!s.executeStep()) return std::nullopt;
  return s.getColumn(0).getInt64();
}

void EventLog::AppendSessionState(SQLite::Database& db, const BatchInfo& info, int64_t session_id,
                                  SessionState from, SessionState to, int64_t attempt,
                                  const SessionOutcome* outcome, int64_t now_ms) {
  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kSessionState;
  e.batch_public_id = info.public_id;
  e.session_id = session_id;
  e.from = SessionStateName(from);
  e.to = SessionStateName(to);
  e.attempt = attempt;
  if (outcome != nullptr) {
    e.error_kind = outcome->error_kind;
    e.error_message = outcome->error_message;
    if (outcome->target == SessionOutcome::Target::kRequeue && !outcome->error_kind.empty()) {
      e.retry_at_ms = outcome->not_before_ms;
    }
  }
  Appender(db).Append(e);
}

void EventLog::OnClaimed(SQLite::Database& db, std::span<const ClaimedSession> claimed) {
  if (claimed.empty()) return;
  const BatchInfo* info = Info(db, claimed.front().batch_id);
  if (info == nullptr || info->sessions > options_.session_events.every_transition_max_sessions) {
    return;  // the common case at scale: one lookup per batch per claim, nothing written
  }
  const BatchInfo batch = *info;  // Info's cache may rehash below
  const int64_t now = UnixMillis();
  for (const ClaimedSession& c : claimed) {
    switch (policy_.Judge(batch.sessions, false, false, now)) {
      case SessionEventPolicy::Verdict::kEmit:
        AppendSessionState(db, batch, c.id, SessionState::kUninitialized, SessionState::kInProgress,
                           c.attempts, nullptr, now);
        break;
      case SessionEventPolicy::Verdict::kSuppress:
        ++suppressed_[c.batch_id];
        break;
      case SessionEventPolicy::Verdict::kIgnore:
        break;
    }
  }
}

void EventLog::OnFinished(SQLite::Database& db, const SessionOutcome& o) {
  if (!session_chunks_.empty()) {
    session_chunks_.erase(o.session_id);
    session_bytes_.erase(o.session_id);
  }
  const BatchInfo* info = Info(db, o.batch_id);
  if (info == nullptr) return;
  const bool carries_error = !o.error_kind.empty() && o.error_kind != "canceled";
  switch (policy_.Judge(info->sessions, carries_error, false, o.finished_at_ms)) {
    case SessionEventPolicy::Verdict::kIgnore:
      return;
    case SessionEventPolicy::Verdict::kSuppress:
      ++suppressed_[o.batch_id];
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
  const BatchInfo* info = Info(db, after.batch_id);
  if (info == nullptr) return;
  const int64_t now = UnixMillis();
  switch (policy_.Judge(info->sessions, false, true, now)) {
    case SessionEventPolicy::Verdict::kEmit: {
      const BatchInfo batch = *info;
      AppendSessionState(db, batch, after.id, before.state, after.state, after.attempts, nullptr,
                         now);
      break;
    }
    case SessionEventPolicy::Verdict::kSuppress:
      ++suppressed_[after.batch_id];
      break;
    case SessionEventPolicy::Verdict::kIgnore:
      break;
  }
}

void EventLog::ReportProgress(SessionProgress progress) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (reports_.size() >= kMaxPendingReports && !reports_.count(progress.session_id)) return;
    const int64_t id = progress.session_id;
    reports_.insert_or_assign(id, std::move(progress));
    wake = !progress_wanted_;
    progress_wanted_ = true;
  }
  if (wake) wake_.notify_one();
}

void EventLog::Trim(std::function<void(Result<int64_t>)> done) {
  {
    std::lock_guard lock(mu_);
    retention_job_queued_ = true;
  }
  Status s = writer_ != nullptr
                 ? writer_->SubmitUnbounded(std::make_unique<RetentionJob>(*this, done))
                 : Status::Unavailable("the event log is not running");
  if (!s.ok()) {
    {
      std::lock_guard lock(mu_);
      retention_job_queued_ = false;
    }
    done(s);
  }
}

void EventLog::TickerLoop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  Clock::time_point last_progress = Clock::now() - options_.progress_interval;
  Clock::time_point next_retention = Clock::now() + options_.retention_interval;
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    if (progress_wanted_ && !progress_job_queued_ &&
        now >= last_progress + options_.progress_interval) {
      progress_wanted_ = false;
      progress_job_queued_ = true;
      last_progress = now;
      lock.unlock();
      Status s = writer_->SubmitUnbounded(std::make_unique<ProgressJob>(*this));
      lock.lock();
      if (!s.ok()) progress_job_queued_ = false;  // stopping
      continue;
    }
    if (now >= next_retention || retention_wanted_) {
      next_retention = now + options_.retention_interval;
      retention_wanted_ = false;
      if (!retention_job_queued_) {
        retention_job_queued_ = true;
        lock.unlock();
        Status s = writer_->SubmitUnbounded(std::make_unique<RetentionJob>(*this, nullptr));
        lock.lock();
        if (!s.ok()) retention_job_queued_ = false;
      }
      continue;
    }
    Clock::time_point wake_at = next_retention;
    if (progress_wanted_ && !progress_job_queued_) {
      wake_at = std::min(wake_at, last_progress + options_.progress_interval);
    }
    wake_.wait_until(lock, wake_at);
  }
}

void EventLog::WriteProgress(SQLite::Database& db) {
  std::vector<SessionProgress> reports;
  {
    std::lock_guard lock(mu_);
    progress_job_queued_ = false;
    for (auto it = reports_.begin();
         it != reports_.end() && reports.size() < options_.session_progress_per_interval;) {
      reports.push_back(std::move(it->second));
      it = reports_.erase(it);
    }
    if (!reports_.empty()) progress_wanted_ = true;  // the rest go next interval
  }
  wake_.notify_one();
  const int64_t now = UnixMillis();
  for (const SessionProgress& r : reports) FoldSessionProgress(db, r, now);
  for (int64_t batch_id : std::exchange(progress_candidates_, {})) {
    WriteBatchProgress(db, batch_id, now);
  }
}

void EventLog::FoldSessionProgress(SQLite::Database& db, const SessionProgress& r, int64_t now_ms) {
  std::optional<int64_t> batch_id = BatchIdOf(db, r.batch_public_id);
  if (!batch_id) return;  // deleted meanwhile
  // Per-batch totals grow by what each session did since its last report.
  auto delta = [](std::unordered_map<int64_t, int64_t>& last, int64_t id, int64_t now_value) {
    int64_t& prev = last[id];
    const int64_t d = now_value >= prev ? now_value - prev : now_value;  // restarted: all new
    prev = now_value;
    return d;
  };
  BatchProgress& p = progress_[*batch_id];
  p.chunks_done += delta(session_chunks_, r.session_id, r.chunks_done);
  p.bytes_done += delta(session_bytes_, r.session_id, r.bytes_done);
  progress_candidates_.insert(*batch_id);

  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kSessionProgress;
  e.batch_public_id = r.batch_public_id;
  e.session_id = r.session_id;
  e.chunks_done = r.chunks_done;
  e.chunks_total = r.chunks_total;
  e.bytes_done = r.bytes_done;
  e.done_ranges = r.done_ranges;
  Appender(db).Append(e);
}

void EventLog::WriteBatchProgress(SQLite::Database& db, int64_t batch_id, int64_t now_ms) {
  SQLite::Statement s(db,
                      "SELECT public_id, state, session_count, n_uninitialized, n_in_progress, "
                      "n_completed, n_error, n_canceled FROM batch WHERE id = ?");
  s.bind(1, batch_id);
  if (!s.executeStep()) {  // deleted
    progress_.erase(batch_id);
    suppressed_.erase(batch_id);
    batch_info_.erase(batch_id);
    last_info_ = nullptr;
    return;
  }
  const std::string state = s.getColumn(1).getString();
  if (state == "enqueuing") return;  // not announced yet
  if (IsFinished(state)) {
    // batch.finished (from the trigger) carries the final counters; a retry starts afresh.
    progress_.erase(batch_id);
    return;
  }
  const SessionCounts counts{s.getColumn(3).getInt64(), s.getColumn(4).getInt64(),
                             s.getColumn(5).getInt64(), s.getColumn(6).getInt64(),
                             s.getColumn(7).getInt64()};
  const uint64_t sessions = static_cast<uint64_t>(s.getColumn(2).getInt64());
  if (counts.uninitialized == static_cast<int64_t>(sessions)) {
    return;  // nothing started: batch.enqueued (or batch.state after a retry) says it all
  }
  BatchProgress& p = progress_[batch_id];
  const int64_t suppressed = suppressed_.count(batch_id) ? suppressed_[batch_id] : 0;
  if (p.counts == counts && p.chunks_reported == p.chunks_done &&
      p.suppressed_reported == suppressed) {
    return;  // nothing new to say
  }
  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kBatchProgress;
  e.batch_public_id = s.getColumn(0).getString();
  e.to = state;
  e.sessions = sessions;
  e.counts = counts;
  e.sessions_per_s =
      p.sessions_rate.Observe(counts.completed + counts.error + counts.canceled, now_ms);
  const int64_t left = counts.uninitialized + counts.in_progress;
  if (e.sessions_per_s && *e.sessions_per_s > 0 && state != "paused") {
    e.eta_s = static_cast<double>(left) / *e.sessions_per_s;
  }
  if (p.chunks_done > 0) {
    e.chunks_per_s = p.chunks_rate.Observe(p.chunks_done, now_ms);
    e.bytes_per_s = p.bytes_rate.Observe(p.bytes_done, now_ms);
  }
  e.suppressed_session_events = suppressed;
  Appender(db).Append(e);
  p.counts = counts;
  p.chunks_reported = p.chunks_done;
  p.suppressed_reported = suppressed;
}

}  // namespace batchd::storage
