#include "daemon/scheduler.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/batch_expansion.h"
#include "core/bounded_text.h"
#include "daemon/live_progress_reporter.h"

namespace batchd::daemon {
namespace {

using pipeline::CancelToken;
using pipeline::OpOutcome;
using storage::SessionOutcome;

// The parsed specs kept for materializing sessions, by their estimated memory (spec_cache.h):
// room for hundreds of ordinary specs, and a bound whatever the specs are.
constexpr size_t kSpecCacheBytes = size_t{64} << 20;

// A session's error message is stored, shown with the session and sent in its session.state
// event; messages quote URLs, keys and servers' answers, which the input may make megabytes
// long, so they are cut at this many bytes (docs/api.md, "Pages").
constexpr size_t kMaxErrorMessageBytes = 4096;

// How long to wait before claiming again after a claim failed (the database is in trouble;
// retrying at once would only spin).
constexpr int64_t kClaimRetryMs = 1000;

// Sessions handed to an exec thread in one task, at least: each task costs a wakeup, which
// on a busy machine costs more than materializing a few dozen noop sessions.
constexpr size_t kMinSessionsPerTask = 32;

// The exec task running on this thread, if any: sessions that finish synchronously inside it
// give their slots back together when it ends, so that one claim refills them all.
thread_local std::vector<int>* finished_in_task = nullptr;

std::string Describe(const Status& s) {
  return s.path().empty() ? s.message() : s.message() + " (at " + s.path() + ")";
}

}  // namespace

Scheduler::Scheduler(storage::Store& store, const pipeline::OpRegistry& ops,
                     SchedulerOptions options)
    : store_(store),
      ops_(ops),
      options_(options),
      specs_(store, kSpecCacheBytes),
      // Each claim's sessions go out as at most exec_threads tasks, and only one claim is in
      // flight, but tasks of earlier claims may still be queued: `slots` bounds them all.
      exec_(options.exec_threads, static_cast<size_t>(options.slots) + 1),
      slots_(static_cast<size_t>(options.slots)) {
  free_slots_.reserve(slots_.size());
  for (int i = options.slots; i-- > 0;) free_slots_.push_back(i);
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  timer_ = std::thread([this] { TimerLoop(); });
  MutexLock lock(mu_);
  MaybeClaim();
}

void Scheduler::Wake() {
  MutexLock lock(mu_);
  wake_ = true;
  MaybeClaim();
}

void Scheduler::TimerLoop() {
  MutexLock lock(mu_);
  while (!stopping_) {
    if (!next_due_ms_ && options_.idle_claim_interval_ms > 0) {
      if (timer_changed_.WaitFor(mu_, std::chrono::milliseconds(options_.idle_claim_interval_ms)) ==
          std::cv_status::timeout) {
        wake_ = true;
        MaybeClaim();
      }
    } else if (!next_due_ms_) {
      timer_changed_.Wait(mu_);
    } else if (const int64_t now = options_.clock(); now < *next_due_ms_) {
      // A wait for the time left, not until a system_clock time: the time is the clock's.
      timer_changed_.WaitFor(mu_, std::chrono::milliseconds(*next_due_ms_ - now));
    } else {
      next_due_ms_.reset();
      wake_ = true;  // a retry's backoff is over
      MaybeClaim();
    }
  }
}

void Scheduler::MaybeClaim() {
  if (stopping_ || claim_in_flight_ || !wake_ || free_slots_.empty()) return;
  wake_ = false;
  claim_in_flight_ = true;
  const int wanted = static_cast<int>(free_slots_.size());
  mu_.Unlock();
  store_.ClaimSessions(wanted, options_.clock(), [this, wanted](Result<storage::ClaimResult> r) {
    OnClaimed(wanted, std::move(r));
  });
  mu_.Lock();
}

void Scheduler::OnClaimed(int wanted, Result<storage::ClaimResult> result) {
  AssignedList assigned;
  {
    MutexLock lock(mu_);
    claim_in_flight_ = false;
    ++claims_;
    std::set<std::string> late_batch_cancels = std::exchange(cancel_batches_pending_, {});
    std::set<int64_t> late_session_cancels = std::exchange(cancel_sessions_pending_, {});
    if (!result.ok()) {
      ++claim_failures_;
      // A database that cannot commit fails every claim, every second: say so once a minute.
      if (std::optional<int64_t> suppressed = claim_failure_log_.Admit()) {
        spdlog::error("claiming sessions failed: {}; trying again every second{}",
                      result.status().ToString(), SuppressedSuffix(*suppressed));
      }
      wake_ = true;
      next_due_ms_ = options_.clock() + kClaimRetryMs;
      timer_changed_.Signal();
      if (stopping_) idle_.SignalAll();
      return;
    }
    if (result->next_due_ms != next_due_ms_) {
      next_due_ms_ = result->next_due_ms;
      timer_changed_.Signal();
    }
    // A full claim means there may be more waiting for the next free slot.
    if (static_cast<int>(result->sessions.size()) == wanted) wake_ = true;
    assigned.reserve(result->sessions.size());
    // One allocation for the claim's cancel tokens, each shared on its own by aliasing.
    auto tokens = std::make_shared<std::vector<CancelToken>>(result->sessions.size());
    for (size_t i = 0; i < result->sessions.size(); ++i) {
      storage::ClaimedSession& c = result->sessions[i];
      const int slot = free_slots_.back();
      free_slots_.pop_back();
      std::shared_ptr<CancelToken> cancel(tokens, &(*tokens)[i]);
      if (interrupting_) {
        cancel->Cancel(CancelToken::Reason::kShutdown);
      } else if (late_batch_cancels.count(c.batch_public_id) || late_session_cancels.count(c.id)) {
        cancel->Cancel(CancelToken::Reason::kCanceled);
      }
      Slot& s = slots_[static_cast<size_t>(slot)];
      s.session_id = c.id;
      s.batch_public_id = c.batch_public_id;
      s.cancel = cancel;
      const Ticket ticket{c.id, c.batch_id, c.attempts, c.max_attempts, slot};
      assigned.push_back({std::move(c), ticket, std::move(cancel)});
    }
    outstanding_ += static_cast<int64_t>(assigned.size());
    sessions_claimed_ += static_cast<int64_t>(assigned.size());
    if (stopping_ && Idle()) idle_.SignalAll();
    // Slots freed while this claim was in flight are claimed for now.
    MaybeClaim();
  }
  Dispatch(std::move(assigned));
}

void Scheduler::Dispatch(AssignedList assigned) {
  if (assigned.empty()) return;
  auto shared = std::make_shared<const AssignedList>(std::move(assigned));
  const size_t n = shared->size();
  const size_t tasks = std::clamp((n + kMinSessionsPerTask - 1) / kMinSessionsPerTask, size_t{1},
                                  static_cast<size_t>(std::max(1, options_.exec_threads)));
  for (size_t t = 0; t < tasks; ++t) {
    const size_t begin = n * t / tasks;
    const size_t end = n * (t + 1) / tasks;
    const bool queued = exec_.Submit([this, shared, begin, end] {
      std::vector<int> finished;
      finished.reserve(end - begin);
      finished_in_task = &finished;
      for (size_t i = begin; i < end; ++i) Execute((*shared)[i]);
      finished_in_task = nullptr;
      ReleaseSlots(finished);
    });
    if (!queued) {
      for (size_t i = begin; i < end; ++i) {
        const Assigned& a = (*shared)[i];
        Finish(a.ticket, *a.cancel,
               OpOutcome::Failed(Status::Unavailable("the daemon is stopping")));
      }
    }
  }
}

void Scheduler::Execute(const Assigned& session) {
  const storage::ClaimedSession& claimed = session.claimed;
  const std::shared_ptr<CancelToken>& cancel = session.cancel;
  auto fail = [&](const Status& s) { Finish(session.ticket, *cancel, OpOutcome::Failed(s)); };
  Result<std::shared_ptr<const Materialized>> state = MaterializedState(claimed);
  if (!state.ok()) return fail(state.status());

  const nlohmann::json& job = (*state)->job;
  const auto op_name = job.find("op");
  const pipeline::Op* op = op_name != job.end() && op_name->is_string()
                               ? ops_.Find(op_name->get_ref<const std::string&>())
                               : nullptr;
  if (op == nullptr) return fail(Status::InvalidArgument("unknown op", "/op"));
  // Aliasing shared_ptrs: the op holds parts of the state, which lives as long as they do.
  pipeline::OpContext ctx{
      claimed.id, claimed.attempts, std::shared_ptr<const nlohmann::json>(*state, &job),
      std::shared_ptr<const nlohmann::json>(*state, &(*state)->resolved), cancel};
  ctx.batch_id = claimed.batch_public_id;
  ctx.run = (*state)->index.run;
  ctx.index = std::shared_ptr<const std::vector<uint64_t>>(*state, &(*state)->index.index);
  if (claimed.execution && claimed.execution->checkpoint_json) {
    // A resumed chunk session: where its last checkpoint says it stood.
    auto checkpoint = std::make_shared<nlohmann::json>(
        nlohmann::json::parse(*claimed.execution->checkpoint_json, nullptr, false));
    if (checkpoint->is_discarded())
      return fail(Status::Internal("stored checkpoint does not parse"));
    ctx.checkpoint = std::move(checkpoint);
  }
  // Live chunk progress (session.progress events, the dashboard's chunk map), throttled.
  ctx.live_progress = MakeLiveProgressReporter(store_, claimed.id, claimed.batch_public_id);
  ctx.save_checkpoint = [this, id = claimed.id](pipeline::SessionCheckpoint p) {
    store_.SaveCheckpoint({id, p.chunks_done, p.chunks_total, p.state.dump()});
  };
  // The op's name travels with its result, which the store folds into the batch's result.
  const std::string* op_name_ref = &op_name->get_ref<const std::string&>();
  op->Run(ctx,
          [this, ticket = session.ticket, cancel, state = *state, op_name_ref](OpOutcome outcome) {
            Finish(ticket, *cancel, std::move(outcome), *op_name_ref);
          });
}

Result<std::shared_ptr<const Scheduler::Materialized>> Scheduler::MaterializedState(
    const storage::ClaimedSession& claimed) {
  auto state = std::make_shared<Materialized>();
  if (claimed.execution && !claimed.execution->state_json.empty()) {
    // Dequeued before (retry or restart): the execution state built then is reused as is.
    nlohmann::json stored = nlohmann::json::parse(claimed.execution->state_json, nullptr, false);
    if (stored.is_discarded() || !stored.contains("job") || !stored.contains("resolved")) {
      return Status::Internal("stored execution state does not parse");
    }
    state->job = std::move(stored["job"]);
    state->resolved = std::move(stored["resolved"]);
    // Written by StateJson; a state without them (none is) leaves the index empty.
    if (const auto run = stored.find("run"); run != stored.end() && run->is_number_unsigned()) {
      state->index.run = run->get<uint64_t>();
    }
    if (const auto index = stored.find("index"); index != stored.end() && index->is_array()) {
      for (const nlohmann::json& i : *index) {
        if (i.is_number_unsigned()) state->index.index.push_back(i.get<uint64_t>());
      }
    }
    return std::shared_ptr<const Materialized>(std::move(state));
  }
  // Lazy materialization: this is the first time this session's state exists anywhere.
  ASSIGN_OR_RETURN(std::shared_ptr<const BatchSpec> spec,
                   specs_.Get(claimed.batch_id, claimed.batch_public_id));
  state->index = IndexOfOrdinal(BatchShape::Of(*spec), claimed.ordinal);
  const SessionIndex& index = state->index;
  state->job = SubstitutedTemplate(*spec, index);
  const auto op_name = state->job.find("op");
  if (op_name == state->job.end() || !op_name->is_string()) {
    return Status::InvalidArgument("the job has no \"op\" string", "/op");
  }
  const std::string& name = op_name->get_ref<const std::string&>();
  const pipeline::Op* op = ops_.Find(name);
  if (op == nullptr) return Status::InvalidArgument("unknown op \"" + name + "\"", "/op");
  // A batch submitted to a daemon that ran the op, resumed by one that does not.
  if (Status enabled = op->Enabled(); !enabled.ok()) {
    return Status::InvalidArgument(enabled.message(), "/op");
  }
  ASSIGN_OR_RETURN(state->resolved, op->Prepare(state->job));
  store_.SaveExecutionState(claimed.id, StateJson(*state, index), options_.clock());
  return std::shared_ptr<const Materialized>(std::move(state));
}

std::string Scheduler::StateJson(const Materialized& state, const SessionIndex& index) {
  // {"index", "job", "resolved", "run"}, keys sorted as nlohmann::json writes them, written
  // directly: building a DOM of the whole state only to serialize it cost more than the rest
  // of materializing a noop session.
  std::string text = "{\"index\":[";
  for (size_t g = 0; g < index.index.size(); ++g) {
    if (g > 0) text += ',';
    text += std::to_string(index.index[g]);
  }
  text += "],\"job\":";
  text += state.job.dump();
  text += ",\"resolved\":";
  text += state.resolved.dump();
  text += ",\"run\":";
  text += std::to_string(index.run);
  text += '}';
  return text;
}

void Scheduler::Finish(const Ticket& ticket, const CancelToken& cancel, OpOutcome outcome,
                       std::string_view op) {
  const int64_t now = options_.clock();
  SessionOutcome o;
  o.session_id = ticket.session_id;
  o.batch_id = ticket.batch_id;
  o.finished_at_ms = now;
  o.not_before_ms = now;
  // A run that fails once its token is canceled was canceled: a read the cancel aborted can
  // reach the op as a failed read ("canceled") before the op sees the cancel itself.
  const OpOutcome::Kind kind = outcome.kind == OpOutcome::Kind::kFailed && cancel.canceled()
                                   ? OpOutcome::Kind::kCanceled
                                   : outcome.kind;
  switch (kind) {
    case OpOutcome::Kind::kCompleted:
      o.target = SessionOutcome::Target::kCompleted;
      if (!outcome.result.is_null()) {
        o.result_json = outcome.result.dump();
        o.op = op;
      }
      break;
    case OpOutcome::Kind::kCanceled:
      if (cancel.reason() == CancelToken::Reason::kShutdown) {
        o.target = SessionOutcome::Target::kRequeue;  // resumes at the next start
      } else {
        o.target = SessionOutcome::Target::kCanceled;
        o.error_kind = "canceled";
        o.error_message = "canceled by request";
      }
      break;
    case OpOutcome::Kind::kFailed: {
      const bool transient = outcome.error_kind.empty() && pipeline::IsTransient(outcome.error);
      if (!outcome.error_kind.empty()) {
        o.error_kind = std::move(outcome.error_kind);
      } else {
        o.error_kind = transient ? "transient" : "permanent";
      }
      // Room is left for the note on retries below.
      o.error_message = BoundedText(Describe(outcome.error), kMaxErrorMessageBytes - 64);
      if (transient && ticket.attempts < ticket.max_attempts) {
        o.target = SessionOutcome::Target::kRequeue;
        const int shift = static_cast<int>(std::min<int64_t>(ticket.attempts - 1, 30));
        o.not_before_ms = now + std::min(options_.retry_max_ms, options_.retry_base_ms << shift);
      } else {
        o.target = SessionOutcome::Target::kError;
        if (transient) {
          o.error_message += " (gave up after " + std::to_string(ticket.attempts) + " attempts)";
        }
      }
      break;
    }
  }
  outcomes_[static_cast<size_t>(o.target)].Increment();
  const int64_t id = ticket.session_id;
  // The outcome is queued before the slot is given back, so any claim that reuses the slot
  // reaches the writer after it.
  store_.FinishSession(std::move(o),
                       [this, id](Result<bool> recorded) { OnRecorded(id, recorded); });
  if (finished_in_task != nullptr) {
    finished_in_task->push_back(ticket.slot);  // given back when the exec task ends
  } else {
    const int slot = ticket.slot;
    ReleaseSlots({&slot, 1});
  }
}

void Scheduler::ReleaseSlots(std::span<const int> released) {
  if (released.empty()) return;
  std::vector<std::shared_ptr<CancelToken>> tokens;  // destroyed outside the lock
  tokens.reserve(released.size());
  MutexLock lock(mu_);
  for (const int slot : released) {
    Slot& s = slots_[static_cast<size_t>(slot)];
    s.session_id = 0;
    tokens.push_back(std::move(s.cancel));
    free_slots_.push_back(slot);
  }
  finished_total_ += static_cast<int64_t>(released.size());
  const int64_t second = options_.clock() / 1000;
  auto& bucket = per_second_[static_cast<size_t>(second) % per_second_.size()];
  if (bucket.first != second) bucket = {second, 0};
  bucket.second += static_cast<int64_t>(released.size());
  wake_ = true;  // a slot, and maybe a batch's max_running, has room again
  MaybeClaim();
  lock.Unlock();
}

void Scheduler::OnRecorded(int64_t session_id, const Result<bool>& recorded) {
  if (!recorded.ok()) {
    // Only when the store closed before it could store the outcome (it keeps trying until
    // then). The session stays in_progress in the database; the next start requeues it.
    spdlog::warn("outcome of session {} not recorded: {}; the next start requeues it", session_id,
                 recorded.status().ToString());
  }
  MutexLock lock(mu_);
  --outstanding_;
  if (stopping_ && Idle()) idle_.SignalAll();
}

bool Scheduler::Idle() const { return !claim_in_flight_ && outstanding_ == 0; }

bool Scheduler::WaitIdleFor(std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Idle()) {
    if (idle_.WaitUntil(mu_, deadline) == std::cv_status::timeout) return Idle();
  }
  return true;
}

void Scheduler::CancelRunningSession(int64_t session_id) {
  std::shared_ptr<CancelToken> cancel;
  {
    MutexLock lock(mu_);
    // A linear scan: cancels are rare, and a slot table costs nothing per session.
    for (const Slot& s : slots_) {
      if (s.session_id == session_id) cancel = s.cancel;
    }
    if (claim_in_flight_) cancel_sessions_pending_.insert(session_id);
  }
  if (cancel) cancel->Cancel(CancelToken::Reason::kCanceled);
}

void Scheduler::CancelRunningBatch(const std::string& batch_public_id) {
  std::vector<std::shared_ptr<CancelToken>> cancels;
  {
    MutexLock lock(mu_);
    for (const Slot& s : slots_) {
      if (s.session_id != 0 && s.batch_public_id == batch_public_id) cancels.push_back(s.cancel);
    }
    if (claim_in_flight_) cancel_batches_pending_.insert(batch_public_id);
  }
  for (auto& c : cancels) c->Cancel(CancelToken::Reason::kCanceled);
}

void Scheduler::ForgetBatch(const std::string& batch_public_id) { specs_.Forget(batch_public_id); }

api::SchedulerStats Scheduler::Stats() const {
  MutexLock lock(mu_);
  api::SchedulerStats s;
  s.slots = options_.slots;
  s.running = options_.slots - static_cast<int>(free_slots_.size());
  s.finished_total = finished_total_;
  // The last five whole seconds.
  const int64_t now_s = options_.clock() / 1000;
  int64_t sum = 0;
  for (const auto& [second, count] : per_second_) {
    if (second >= now_s - 5 && second < now_s) sum += count;
  }
  s.sessions_per_s = static_cast<double>(sum) / 5.0;
  s.claims = claims_;
  s.claim_failures = claim_failures_;
  s.sessions_claimed = sessions_claimed_;
  using Target = SessionOutcome::Target;
  auto outcomes = [&](Target t) { return outcomes_[static_cast<size_t>(t)].Value(); };
  s.outcomes_completed = outcomes(Target::kCompleted);
  s.outcomes_error = outcomes(Target::kError);
  s.outcomes_canceled = outcomes(Target::kCanceled);
  s.outcomes_requeued = outcomes(Target::kRequeue);
  return s;
}

void Scheduler::Stop() {
  MutexLock lock(mu_);
  if (stopping_ && !timer_.joinable()) return;
  stopping_ = true;
  timer_changed_.SignalAll();
  lock.Unlock();
  if (timer_.joinable()) timer_.join();

  lock.Lock();
  if (!WaitIdleFor(options_.shutdown_grace)) {
    interrupting_ = true;
    std::vector<std::shared_ptr<CancelToken>> cancels;
    for (const Slot& s : slots_) {
      if (s.session_id != 0) cancels.push_back(s.cancel);
    }
    spdlog::info("interrupting {} running session(s); they resume at the next start",
                 cancels.size());
    lock.Unlock();
    for (auto& c : cancels) c->Cancel(CancelToken::Reason::kShutdown);
    lock.Lock();
    if (!WaitIdleFor(std::chrono::seconds(10))) {
      spdlog::warn("{} session(s) did not stop; they resume at the next start", outstanding_);
    }
  }
  lock.Unlock();
  exec_.Stop();
}

}  // namespace batchd::daemon
