// The metric primitives (docs/metrics.md): a sharded counter adds up across threads, a latency
// histogram puts each duration in the first bucket whose bound is not below it, and the process
// figures come from /proc.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "core/latency_histogram.h"
#include "core/process_stats.h"
#include "core/sharded_counter.h"

namespace batchd {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ShardedCounterTest, StartsAtZeroAndSumsEveryThreadsAdds) {
  ShardedCounter counter;
  EXPECT_EQ(counter.Value(), 0);
  constexpr int kThreads = 8;
  constexpr int kAdds = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAdds; ++i) counter.Increment();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.Value(), kThreads * kAdds);
}

TEST(ShardedCounterTest, AsAGaugeItReturnsToZeroWhenOtherThreadsTakeBackWhatOnesAdded) {
  ShardedCounter bytes_in_flight;
  std::thread adder([&] {
    for (int i = 0; i < 1000; ++i) bytes_in_flight.Add(4096);
  });
  adder.join();
  EXPECT_EQ(bytes_in_flight.Value(), 1000 * 4096);
  std::thread remover([&] {
    for (int i = 0; i < 1000; ++i) bytes_in_flight.Add(-4096);
  });
  remover.join();
  EXPECT_EQ(bytes_in_flight.Value(), 0);
}

TEST(LatencyHistogramTest, ADurationFallsInTheFirstBucketWhoseBoundIsNotBelowIt) {
  const double bounds[] = {0.001, 0.01, 0.1};
  LatencyHistogram h(bounds);
  h.Observe(microseconds(500));  // <= 1 ms
  h.Observe(milliseconds(1));    // exactly on a bound: that bucket ("le")
  h.Observe(milliseconds(5));    // <= 10 ms
  h.Observe(milliseconds(100));  // exactly the last bound
  h.Observe(milliseconds(250));  // above every bound: +Inf
  const LatencyHistogram::Snapshot s = h.Read();
  ASSERT_EQ(s.bounds_s, std::vector<double>({0.001, 0.01, 0.1}));
  EXPECT_EQ(s.counts, std::vector<uint64_t>({2, 1, 1, 1}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_NEAR(s.sum_s, 0.0005 + 0.001 + 0.005 + 0.1 + 0.25, 1e-12);
}

TEST(LatencyHistogramTest, NegativeDurationsCountAsZero) {
  LatencyHistogram h;
  h.Observe(nanoseconds(-5));
  const LatencyHistogram::Snapshot s = h.Read();
  EXPECT_EQ(s.counts.front(), 1u);
  EXPECT_EQ(s.sum_s, 0.0);
}

TEST(LatencyHistogramTest, TheDefaultBoundsSpan100MicrosecondsTo10Seconds) {
  LatencyHistogram h;
  const LatencyHistogram::Snapshot s = h.Read();
  ASSERT_FALSE(s.bounds_s.empty());
  EXPECT_EQ(s.bounds_s.front(), 0.0001);
  EXPECT_EQ(s.bounds_s.back(), 10.0);
  EXPECT_EQ(s.counts.size(), s.bounds_s.size() + 1);
  EXPECT_EQ(s.count, 0u);
}

TEST(LatencyHistogramTest, ConcurrentObservationsAreAllCounted) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) h.Observe(microseconds(i % 3000));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.Read().count, 20'000u);
}

TEST(ProcessStatsTest, ReadsThisProcessFromProc) {
  Result<ProcessStats> before = ReadProcessStats();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  // Touch 64 MiB so the resident size has to show it.
  std::vector<char> block(64 << 20, 1);
  volatile char sink = block[block.size() / 2];
  (void)sink;
  Result<ProcessStats> after = ReadProcessStats();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GE(after->resident_bytes - before->resident_bytes, 60ll << 20);
  EXPECT_GE(after->virtual_bytes, after->resident_bytes);
  EXPECT_GE(after->threads, 1);
  EXPECT_GE(after->open_fds, 3);  // stdin, stdout, stderr at least
  // Started in the last day, not in the future (the clock and /proc/stat's btime agree).
  const double now_s = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  EXPECT_LE(after->start_time_s, now_s + 2);
  EXPECT_GE(after->start_time_s, now_s - 86400);
  EXPECT_GE(after->cpu_seconds, before->cpu_seconds);
}

}  // namespace
}  // namespace batchd
