#include "storage/live_progress_coalescer.h"

#include <utility>

namespace batchd::storage {

LiveProgressCoalescer::LiveProgressCoalescer(LiveProgressCoalescerOptions options, SteadyClock now)
    : options_(options), round_throttle_(options.interval.count(), std::move(now)) {}

bool LiveProgressCoalescer::Report(SessionLiveProgress report) {
  MutexLock lock(mu_);
  const bool wake = !WaitingLocked() && !round_out_;
  const int64_t id = report.session_id;
  auto it = reports_.find(id);
  if (it != reports_.end()) {
    it->second = std::move(report);
    return wake;
  }
  if (reports_.size() >= options_.max_pending_sessions) return false;
  reports_.emplace(id, std::move(report));
  order_.push_back(id);
  return wake;
}

bool LiveProgressCoalescer::BatchesChanged(const std::vector<int64_t>& batch_ids) {
  if (batch_ids.empty()) return false;
  MutexLock lock(mu_);
  const bool wake = !WaitingLocked() && !round_out_;
  batches_.insert(batch_ids.begin(), batch_ids.end());
  return wake;
}

std::optional<std::chrono::milliseconds> LiveProgressCoalescer::DueIn() const {
  MutexLock lock(mu_);
  if (!WaitingLocked() || round_out_) return std::nullopt;
  return std::chrono::milliseconds(round_throttle_.MillisUntilNextPass());
}

bool LiveProgressCoalescer::StartRoundIfDue() {
  MutexLock lock(mu_);
  if (!WaitingLocked() || round_out_) return false;
  if (!round_throttle_.TryPass()) return false;
  round_out_ = true;
  return true;
}

void LiveProgressCoalescer::CancelRound() {
  MutexLock lock(mu_);
  round_out_ = false;
}

LiveProgressCoalescer::Round LiveProgressCoalescer::TakeRound() {
  Round round;
  MutexLock lock(mu_);
  round_out_ = false;
  while (!order_.empty() && round.reports.size() < options_.max_reports_per_round) {
    auto it = reports_.find(order_.front());
    order_.pop_front();
    round.reports.push_back(std::move(it->second));
    reports_.erase(it);
  }
  round.batches.assign(batches_.begin(), batches_.end());
  batches_.clear();
  round.more = !reports_.empty();
  return round;
}

}  // namespace batchd::storage
