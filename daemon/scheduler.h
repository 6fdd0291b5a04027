// The scheduler: claims sessions from the store into a fixed number of slots, materializes each
// one's execution state at that moment (never at submission), runs its op, and records the
// outcome. See docs/scheduler.md for the state machine and the claim and recovery rules.
//
// Threads: one claim loop; `exec_threads` workers that materialize sessions and start ops (ops
// that wait do so on the shared TimerService, so slots may outnumber threads); store callbacks
// arrive on storage threads. All shared state is guarded by mu_.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "api/scheduler_control.h"
#include "core/worker_pool.h"
#include "daemon/spec_cache.h"
#include "pipeline/op_registry.h"
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
  api::SchedulerStats Stats() const override;

 private:
  struct Running {
    std::string batch_public_id;
    std::shared_ptr<pipeline::CancelToken> cancel;
  };

  void ClaimLoop();
  void Execute(const storage::ClaimedSession& claimed,
               const std::shared_ptr<pipeline::CancelToken>& cancel);
  void Finish(const storage::ClaimedSession& claimed, const pipeline::CancelToken& cancel,
              pipeline::OpOutcome outcome);
  void OnRecorded(int64_t session_id);

  storage::Store& store_;
  const pipeline::OpRegistry& ops_;
  const SchedulerOptions options_;
  SpecCache specs_;
  WorkerPool exec_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<int64_t, Running> running_;  // guarded by mu_: claimed until the outcome is stored
  bool wake_ = true;                    // guarded by mu_: something may be claimable
  bool stopping_ = false;               // guarded by mu_
  std::optional<int64_t> next_due_ms_;  // guarded by mu_: earliest retry backoff end
  int64_t finished_total_ = 0;          // guarded by mu_
  // A cancel that arrives while a claim is in flight may concern sessions that claim moved to
  // in_progress just before the cancel's transaction. Such cancels are remembered here and
  // applied when the claim's sessions are registered.
  bool claim_in_flight_ = false;                             // guarded by mu_
  std::set<std::string> cancel_batches_pending_;             // guarded by mu_
  std::set<int64_t> cancel_sessions_pending_;                // guarded by mu_
  std::array<std::pair<int64_t, int64_t>, 8> per_second_{};  // guarded by mu_: (second, count)
  std::thread loop_;
};

}  // namespace batchd::daemon
