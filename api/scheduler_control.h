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
  virtual SchedulerStats Stats() const = 0;
};

}  // namespace batchd::api
