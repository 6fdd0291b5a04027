// A histogram of durations with fixed bucket bounds, in the shape Prometheus wants (cumulative
// buckets, a sum and a count; docs/metrics.md). Observe is a binary search over the bounds and
// two relaxed atomic adds: safe from any thread, no lock, cheap enough for every HTTP request
// and every SQLite commit. Read() is for scrapes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace batchd {

// 100 µs to 10 s, about three buckets per decade: from a cached point read to a stuck commit.
inline constexpr double kLatencyBoundsSeconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                   1,      2.5,     5,      10};

class LatencyHistogram {
 public:
  // `bounds_s`: the buckets' upper bounds in seconds, strictly increasing; a last bucket
  // without bound (+Inf) is implied.
  explicit LatencyHistogram(std::span<const double> bounds_s = kLatencyBoundsSeconds);
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void Observe(std::chrono::nanoseconds duration);

  struct Snapshot {
    std::vector<double> bounds_s;  // as given
    // Per bucket, not cumulative: counts[i] observations fell in (bounds_s[i-1], bounds_s[i]];
    // counts.back() is the +Inf bucket (above the last bound).
    std::vector<uint64_t> counts;
    uint64_t count = 0;  // the sum of counts, so a scrape's buckets always add up to it
    double sum_s = 0;
  };
  Snapshot Read() const;

 private:
  std::vector<double> bounds_s_;
  std::vector<int64_t> bounds_ns_;  // the same bounds, for comparing without floating point
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds + 1
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace batchd
