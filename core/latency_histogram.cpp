#include "core/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace batchd {

LatencyHistogram::LatencyHistogram(std::span<const double> bounds_s)
    : bounds_s_(bounds_s.begin(), bounds_s.end()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_s.size() + 1)) {
  bounds_ns_.reserve(bounds_s_.size());
  for (double b : bounds_s_) bounds_ns_.push_back(static_cast<int64_t>(std::llround(b * 1e9)));
}

void LatencyHistogram::Observe(std::chrono::nanoseconds duration) {
  const int64_t ns = std::max<int64_t>(0, duration.count());
  // Buckets are "less than or equal to" their bound: the first bound >= ns.
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns) - bounds_ns_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::Read() const {
  Snapshot s;
  s.bounds_s = bounds_s_;
  s.counts.reserve(bounds_s_.size() + 1);
  for (size_t i = 0; i <= bounds_s_.size(); ++i) {
    s.counts.push_back(counts_[i].load(std::memory_order_relaxed));
    s.count += s.counts.back();
  }
  s.sum_s = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace batchd
