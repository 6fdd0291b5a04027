// What the API needs from the scheduler (implemented by daemon/scheduler.h): nudges after
// changes that may make work claimable, and cancels that must reach running sessions.
#pragma once

#include <cstdint>
#include <string>

namespace batchd::api {

struct SchedulerStats {
  int slots = 0;
  int running = 0;
  double sessions_per_s = 0;   // finished sessions per second over the last few seconds
  int64_t finished_total = 0;  // since start
  // Since start, for metrics (docs/metrics.md).
  int64_t claims = 0;            // claim transactions answered (with or without sessions)
  int64_t claim_failures = 0;    // claims the store failed
  int64_t sessions_claimed = 0;  // sessions those claims moved to in_progress
  // Outcomes handed to the store, by where they send the session.
  int64_t outcomes_completed = 0;
  int64_t outcomes_error = 0;
  int64_t outcomes_canceled = 0;
  int64_t outcomes_requeued = 0;  // transient failures retried, and sessions interrupted by a stop
};

class SchedulerControl {
 public:
  virtual ~SchedulerControl() = default;
  // Something may have become claimable (a batch was stored, resumed or retried).
  virtual void Wake() = 0;
  // Cancels the session if it is running here; no-op otherwise.
  virtual void CancelRunningSession(int64_t session_id) = 0;
  // Cancels every running session of the batch.
  virtual void CancelRunningBatch(const std::string& batch_public_id) = 0;
  // The batch was deleted: drop what is kept to run its sessions (its parsed spec).
  virtual void ForgetBatch(const std::string& batch_public_id) = 0;
  virtual SchedulerStats Stats() const = 0;
};

}  // namespace batchd::api
