#include "storage/progress_coalescer.h"

#include <algorithm>

namespace batchd::storage {
namespace {

int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ProgressCoalescer::ProgressCoalescer(ProgressCoalescerOptions options, Clock now)
    : options_(options), now_(now ? std::move(now) : Clock(SteadyMillis)) {}

bool ProgressCoalescer::Report(SessionProgress report) {
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

bool ProgressCoalescer::BatchesChanged(const std::vector<int64_t>& batch_ids) {
  if (batch_ids.empty()) return false;
  MutexLock lock(mu_);
  const bool wake = !WaitingLocked() && !round_out_;
  batches_.insert(batch_ids.begin(), batch_ids.end());
  return wake;
}

int64_t ProgressCoalescer::UntilNextStartLocked(int64_t now) const {
  return started_ms_ ? *started_ms_ + options_.interval.count() - now : 0;
}

std::optional<std::chrono::milliseconds> ProgressCoalescer::DueIn() const {
  MutexLock lock(mu_);
  if (!WaitingLocked() || round_out_) return std::nullopt;
  return std::chrono::milliseconds(std::max<int64_t>(0, UntilNextStartLocked(now_())));
}

bool ProgressCoalescer::StartRoundIfDue() {
  MutexLock lock(mu_);
  if (!WaitingLocked() || round_out_) return false;
  const int64_t now = now_();
  if (UntilNextStartLocked(now) > 0) return false;
  round_out_ = true;
  started_ms_ = now;
  return true;
}

void ProgressCoalescer::CancelRound() {
  MutexLock lock(mu_);
  round_out_ = false;
}

ProgressCoalescer::Round ProgressCoalescer::TakeRound() {
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
