#include "daemon/scheduler.h"

#include <future>

#include <spdlog/spdlog.h>

#include "core/batch_expansion.h"
#include "core/clock.h"
#include "daemon/chunk_progress_reporter.h"

namespace batchd::daemon {
namespace {

using pipeline::CancelToken;
using pipeline::OpOutcome;
using storage::SessionOutcome;

// Parsed specs kept in memory; a batch's spec is parsed again only after this many other
// batches have been materialized since.
constexpr size_t kSpecCacheEntries = 256;

std::string Describe(const Status& s) {
  return s.path().empty() ? s.message() : s.message() + " (at " + s.path() + ")";
}

}  // namespace

Scheduler::Scheduler(storage::Store& store, const pipeline::OpRegistry& ops,
                     SchedulerOptions options)
    : store_(store),
      ops_(ops),
      options_(options),
      specs_(store, kSpecCacheEntries),
      // At most `slots` sessions are claimed at once, so the queue never holds more.
      exec_(options.exec_threads, static_cast<size_t>(options.slots) + 1) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  loop_ = std::thread([this] { ClaimLoop(); });
}

void Scheduler::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  changed_.notify_all();
}

void Scheduler::ClaimLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto ready = [&] {
      return stopping_ || (wake_ && static_cast<int>(running_.size()) < options_.slots);
    };
    if (next_due_ms_) {
      const auto due =
          std::chrono::system_clock::time_point(std::chrono::milliseconds(*next_due_ms_));
      changed_.wait_until(lock, due, ready);
      if (next_due_ms_ && UnixMillis() >= *next_due_ms_) {
        wake_ = true;  // a retry's backoff is over
        next_due_ms_.reset();
      }
    } else {
      changed_.wait(lock, ready);
    }
    if (stopping_) return;
    if (!ready()) continue;
    wake_ = false;
    claim_in_flight_ = true;
    const int want = options_.slots - static_cast<int>(running_.size());
    lock.unlock();

    std::promise<Result<storage::ClaimResult>> claimed;
    store_.ClaimSessions(want, UnixMillis(),
                         [&claimed](Result<storage::ClaimResult> r) { claimed.set_value(r); });
    Result<storage::ClaimResult> result = claimed.get_future().get();

    lock.lock();
    claim_in_flight_ = false;
    std::set<std::string> late_batch_cancels = std::exchange(cancel_batches_pending_, {});
    std::set<int64_t> late_session_cancels = std::exchange(cancel_sessions_pending_, {});
    if (!result.ok()) {
      spdlog::error("claiming sessions failed: {}", result.status().ToString());
      wake_ = true;
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
      continue;
    }
    next_due_ms_ = result->next_due_ms;
    // A full claim means there may be more waiting for the next free slot.
    if (static_cast<int>(result->sessions.size()) == want) wake_ = true;
    std::vector<std::shared_ptr<CancelToken>> cancels;
    for (const storage::ClaimedSession& c : result->sessions) {
      cancels.push_back(std::make_shared<CancelToken>());
      if (late_batch_cancels.count(c.batch_public_id) || late_session_cancels.count(c.id)) {
        cancels.back()->Cancel(CancelToken::Reason::kCanceled);
      }
      running_.emplace(c.id, Running{c.batch_public_id, cancels.back()});
    }
    lock.unlock();
    for (size_t i = 0; i < cancels.size(); ++i) {
      auto c = std::make_shared<const storage::ClaimedSession>(std::move(result->sessions[i]));
      if (!exec_.Submit([this, c, cancel = cancels[i]] { Execute(*c, cancel); })) {
        Finish(*c, *cancels[i], OpOutcome::Failed(Status::Unavailable("the daemon is stopping")));
      }
    }
    lock.lock();
  }
}

void Scheduler::Execute(const storage::ClaimedSession& claimed,
                        const std::shared_ptr<CancelToken>& cancel) {
  auto fail = [&](const Status& s) { Finish(claimed, *cancel, OpOutcome::Failed(s)); };
  // The execution state {"job", "resolved", "run", "index"}; the op gets views into it.
  auto state = std::make_shared<nlohmann::json>();

  if (claimed.execution && !claimed.execution->state_json.empty()) {
    // Dequeued before (retry or restart): the execution state built then is reused as is.
    *state = nlohmann::json::parse(claimed.execution->state_json, nullptr, false);
    if (state->is_discarded() || !state->contains("job") || !state->contains("resolved")) {
      return fail(Status::Internal("stored execution state does not parse"));
    }
  } else {
    // Lazy materialization: this is the first time this session's state exists anywhere.
    Result<std::shared_ptr<const BatchSpec>> spec = specs_.Get(claimed.batch_id);
    if (!spec.ok()) return fail(spec.status());
    const SessionIndex index = IndexOfOrdinal(BatchShape::Of(**spec), claimed.ordinal);
    nlohmann::json& job = (*state)["job"] = SubstitutedTemplate(**spec, index);
    const auto op_name = job.find("op");
    if (op_name == job.end() || !op_name->is_string()) {
      return fail(Status::InvalidArgument("the job has no \"op\" string", "/op"));
    }
    const pipeline::Op* op = ops_.Find(op_name->get<std::string>());
    if (op == nullptr) {
      return fail(
          Status::InvalidArgument("unknown op \"" + op_name->get<std::string>() + "\"", "/op"));
    }
    Result<nlohmann::json> prepared = op->Prepare(job);
    if (!prepared.ok()) return fail(prepared.status());
    (*state)["resolved"] = std::move(*prepared);
    (*state)["run"] = index.run;
    (*state)["index"] = index.index;
    store_.SaveExecutionState(claimed.id, state->dump(), UnixMillis());
  }

  const nlohmann::json& job = (*state)["job"];
  const pipeline::Op* op = ops_.Find(job.value("op", std::string()));
  if (op == nullptr) return fail(Status::InvalidArgument("unknown op", "/op"));
  // Aliasing shared_ptrs: the op holds parts of `state`, which lives as long as they do.
  pipeline::OpContext ctx{
      claimed.id, claimed.attempts, std::shared_ptr<const nlohmann::json>(state, &job),
      std::shared_ptr<const nlohmann::json>(state, &(*state)["resolved"]), cancel};
  ctx.progress = ChunkProgressReporter(store_, claimed.id, claimed.batch_public_id);
  op->Run(ctx, [this, claimed, cancel](OpOutcome outcome) {
    Finish(claimed, *cancel, std::move(outcome));
  });
}

void Scheduler::Finish(const storage::ClaimedSession& claimed, const CancelToken& cancel,
                       OpOutcome outcome) {
  const int64_t now = UnixMillis();
  SessionOutcome o;
  o.session_id = claimed.id;
  o.batch_id = claimed.batch_id;
  o.finished_at_ms = now;
  o.not_before_ms = now;
  switch (outcome.kind) {
    case OpOutcome::Kind::kCompleted:
      o.target = SessionOutcome::Target::kCompleted;
      if (!outcome.result.is_null()) o.result_json = outcome.result.dump();
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
      const bool transient = pipeline::IsTransient(outcome.error);
      o.error_kind = transient ? "transient" : "permanent";
      o.error_message = Describe(outcome.error);
      if (transient && claimed.attempts < claimed.max_attempts) {
        o.target = SessionOutcome::Target::kRequeue;
        const int shift = static_cast<int>(std::min<int64_t>(claimed.attempts - 1, 30));
        o.not_before_ms = now + std::min(options_.retry_max_ms, options_.retry_base_ms << shift);
      } else {
        o.target = SessionOutcome::Target::kError;
        if (transient) {
          o.error_message += " (gave up after " + std::to_string(claimed.attempts) + " attempts)";
        }
      }
      break;
    }
  }
  const int64_t id = claimed.id;
  store_.FinishSession(std::move(o), [this, id](Result<bool> recorded) {
    if (!recorded.ok()) {
      // The session stays in_progress in the database; the next start requeues it.
      spdlog::warn("outcome of session {} not recorded: {}", id, recorded.status().ToString());
    }
    OnRecorded(id);
  });
}

void Scheduler::OnRecorded(int64_t session_id) {
  {
    std::lock_guard lock(mu_);
    running_.erase(session_id);
    ++finished_total_;
    const int64_t second = UnixMillis() / 1000;
    auto& bucket = per_second_[static_cast<size_t>(second) % per_second_.size()];
    if (bucket.first != second) bucket = {second, 0};
    ++bucket.second;
    wake_ = true;  // a slot, and maybe a batch's max_running, has room again
  }
  changed_.notify_all();
}

void Scheduler::CancelRunningSession(int64_t session_id) {
  std::shared_ptr<CancelToken> cancel;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(session_id); it != running_.end()) cancel = it->second.cancel;
    if (claim_in_flight_) cancel_sessions_pending_.insert(session_id);
  }
  if (cancel) cancel->Cancel(CancelToken::Reason::kCanceled);
}

void Scheduler::CancelRunningBatch(const std::string& batch_public_id) {
  std::vector<std::shared_ptr<CancelToken>> cancels;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, r] : running_) {
      if (r.batch_public_id == batch_public_id) cancels.push_back(r.cancel);
    }
    if (claim_in_flight_) cancel_batches_pending_.insert(batch_public_id);
  }
  for (auto& c : cancels) c->Cancel(CancelToken::Reason::kCanceled);
}

api::SchedulerStats Scheduler::Stats() const {
  std::lock_guard lock(mu_);
  api::SchedulerStats s;
  s.slots = options_.slots;
  s.running = static_cast<int>(running_.size());
  s.finished_total = finished_total_;
  // The last five whole seconds.
  const int64_t now_s = UnixMillis() / 1000;
  int64_t sum = 0;
  for (const auto& [second, count] : per_second_) {
    if (second >= now_s - 5 && second < now_s) sum += count;
  }
  s.sessions_per_s = static_cast<double>(sum) / 5.0;
  return s;
}

void Scheduler::Stop() {
  std::unique_lock lock(mu_);
  if (stopping_ && !loop_.joinable()) return;
  stopping_ = true;
  lock.unlock();
  changed_.notify_all();
  if (loop_.joinable()) loop_.join();

  lock.lock();
  if (!changed_.wait_for(lock, options_.shutdown_grace, [&] { return running_.empty(); })) {
    spdlog::info("interrupting {} running session(s); they resume at the next start",
                 running_.size());
    std::vector<std::shared_ptr<CancelToken>> cancels;
    for (const auto& [id, r] : running_) cancels.push_back(r.cancel);
    lock.unlock();
    for (auto& c : cancels) c->Cancel(CancelToken::Reason::kShutdown);
    lock.lock();
    if (!changed_.wait_for(lock, std::chrono::seconds(10), [&] { return running_.empty(); })) {
      spdlog::warn("{} session(s) did not stop; they resume at the next start", running_.size());
    }
  }
  lock.unlock();
  exec_.Stop();
}

}  // namespace batchd::daemon
