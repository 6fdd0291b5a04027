// The scheduler: claims sessions from the store into a fixed number of slots, materializes each
// one's execution state at that moment (never at submission), runs its op, and records the
// outcome. See docs/scheduler.md for the state machine and the claim and recovery rules.
//
// Threads: there is no claim thread. A claim is submitted by whichever thread makes one
// worthwhile (a Wake from the API, a session finishing on an exec or timer thread, the
// previous claim's answer on the store's writer thread, or the backoff timer thread), at most
// one at a time; its answer registers the sessions and hands them to `exec_threads` workers in
// a few chunks. Ops that wait do so on the shared TimerService, so slots may outnumber threads.
// All shared state is guarded by mu_; nothing blocks while holding it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "api/scheduler_control.h"
#include "core/batch_expansion.h"
#include "core/clock.h"
#include "core/log_throttle.h"
#include "core/mutex.h"
#include "core/sharded_counter.h"
#include "core/worker_pool.h"
#include "daemon/spec_cache.h"
#include "pipeline/ops/op_registry.h"
#include "storage/store.h"

namespace batchd::daemon {

struct SchedulerOptions {
  int slots = 2;         // sessions in progress at once, over all batches
  int exec_threads = 2;  // threads that materialize sessions and start their ops
  // Transient failures are retried after base * 2^(attempt-1), capped.
  int64_t retry_base_ms = 1000;
  int64_t retry_max_ms = 60'000;
  // On Stop, running sessions get this long to finish before they are interrupted (and go
  // back to the queue to resume at the next start).
  std::chrono::milliseconds shutdown_grace{5000};
  // Stamps claims, outcomes and retry times (unix ms), and counts finished sessions per second.
  WallClock clock = UnixMillis;
  // Claim this often even when nothing woke the scheduler (0: never). With a store shared by
  // many nodes, work arrives through other nodes too (a batch submitted there, sessions rescued
  // from a dead node); their events wake the scheduler at once, this catches what has none.
  int64_t idle_claim_interval_ms = 0;
};

class Scheduler final : public api::SchedulerControl {
 public:
  Scheduler(storage::Store& store, const pipeline::OpRegistry& ops, SchedulerOptions options);
  ~Scheduler() override;  // Stop()s

  void Start();

  // Stops claiming, lets running sessions finish within the grace period, interrupts the rest
  // (they are requeued with their execution state), and waits until every outcome is recorded.
  // Idempotent. The store must stay open until it returns.
  void Stop();

  void Wake() override;
  void CancelRunningSession(int64_t session_id) override;
  void CancelRunningBatch(const std::string& batch_public_id) override;
  void ForgetBatch(const std::string& batch_public_id) override;
  api::SchedulerStats Stats() const override;

 private:
  // A slot and the session holding it. A slot is taken when a claim answers and given back
  // when the session's outcome has been handed to the store, which writes outcomes before
  // any claim submitted after them: the database never shows more sessions in progress than
  // there are slots.
  struct Slot {
    int64_t session_id = 0;  // 0 when free
    std::string batch_public_id;
    std::shared_ptr<pipeline::CancelToken> cancel;
  };
  // What finishing a session needs to know about it (no strings: it travels with every op).
  struct Ticket {
    int64_t session_id;
    int64_t batch_id;
    int64_t attempts;
    int64_t max_attempts;
    int slot;
  };
  // A claimed session with its slot, on its way to an exec thread.
  struct Assigned {
    storage::ClaimedSession claimed;
    Ticket ticket;
    std::shared_ptr<pipeline::CancelToken> cancel;
  };
  using AssignedList = std::vector<Assigned>;

  void TimerLoop();
  // Submits a claim for the free slots if one may find work and none is in flight. Called
  // with mu_ held; releases it while submitting.
  void MaybeClaim() REQUIRES(mu_);
  void OnClaimed(int wanted, Result<storage::ClaimResult> result);
  // Hands the sessions to the exec threads in one task per thread (not one per session: each
  // hand-off costs a wakeup).
  void Dispatch(AssignedList assigned);
  void Execute(const Assigned& session);
  // What a session's op gets: its job (the template with its values) and what the op's
  // Prepare resolved. Built at its first dequeue (and saved), read back from its stored state
  // after that.
  struct Materialized {
    nlohmann::json job;
    nlohmann::json resolved;
    SessionIndex index;  // the session's run and item indexes (OpContext::index)
  };
  Result<std::shared_ptr<const Materialized>> MaterializedState(
      const storage::ClaimedSession& claimed);
  static std::string StateJson(const Materialized& state, const SessionIndex& index);
  // Queues the session's outcome, then gives its slot back (at once, or with the others of its
  // exec task when it finished inside one).
  // `op` names the op that produced the outcome (for folding its result into the batch's).
  void Finish(const Ticket& ticket, const pipeline::CancelToken& cancel,
              pipeline::OpOutcome outcome, std::string_view op = {});
  void ReleaseSlots(std::span<const int> slots);
  void OnRecorded(int64_t session_id, const Result<bool>& recorded);
  bool Idle() const REQUIRES(mu_);  // no claim in flight, every outcome recorded
  // Waits until Idle() or for `timeout` at most; returns Idle().
  bool WaitIdleFor(std::chrono::steady_clock::duration timeout) REQUIRES(mu_);

  storage::Store& store_;
  const pipeline::OpRegistry& ops_;
  const SchedulerOptions options_;
  SpecCache specs_;
  WorkerPool exec_;

  mutable Mutex mu_;
  CondVar idle_;           // Stop waits on it for Idle()
  CondVar timer_changed_;  // next_due_ms_ or stopping_ changed
  std::vector<Slot> slots_ GUARDED_BY(mu_);
  std::vector<int> free_slots_ GUARDED_BY(mu_);  // indexes of free slots_
  int64_t outstanding_ GUARDED_BY(mu_) = 0;      // claimed, outcome not yet recorded
  bool wake_ GUARDED_BY(mu_) = true;             // something may be claimable
  bool stopping_ GUARDED_BY(mu_) = false;
  bool interrupting_ GUARDED_BY(mu_) = false;           // Stop's grace period is over
  std::optional<int64_t> next_due_ms_ GUARDED_BY(mu_);  // earliest retry backoff end
  int64_t finished_total_ GUARDED_BY(mu_) = 0;
  // A cancel that arrives while a claim is in flight may concern sessions that claim moved to
  // in_progress just before the cancel's transaction. Such cancels are remembered here and
  // applied when the claim's sessions are registered.
  bool claim_in_flight_ GUARDED_BY(mu_) = false;
  std::set<std::string> cancel_batches_pending_ GUARDED_BY(mu_);
  std::set<int64_t> cancel_sessions_pending_ GUARDED_BY(mu_);
  std::array<std::pair<int64_t, int64_t>, 8> per_second_ GUARDED_BY(mu_) = {};  // (second, count)
  int64_t claims_ GUARDED_BY(mu_) = 0;
  int64_t claim_failures_ GUARDED_BY(mu_) = 0;
  LogThrottle claim_failure_log_;  // claims failing every second are logged once a minute
  int64_t sessions_claimed_ GUARDED_BY(mu_) = 0;
  // Outcomes by SessionOutcome::Target, counted where Finish runs (any exec or timer thread,
  // without mu_): sharded, so a drain's 200k outcomes a second do not share one cache line.
  std::array<ShardedCounter, 4> outcomes_;
  std::thread timer_;  // wakes the claims when a retry's backoff ends
};

}  // namespace batchd::daemon
