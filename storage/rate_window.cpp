#include "storage/rate_window.h"

namespace batchd::storage {

std::optional<double> RateWindow::Observe(int64_t value, int64_t now_ms) {
  if (!samples_.empty() && (value < samples_.back().second || now_ms < samples_.back().first)) {
    samples_.clear();
  }
  samples_.emplace_back(now_ms, value);
  // Keep one sample at or before the window's start, so the rate always spans the window.
  while (samples_.size() > 2 && samples_[1].first <= now_ms - window_ms_) samples_.pop_front();
  const auto& [t0, v0] = samples_.front();
  if (now_ms - t0 < 1) return std::nullopt;
  return static_cast<double>(value - v0) * 1000.0 / static_cast<double>(now_ms - t0);
}

}  // namespace batchd::storage
