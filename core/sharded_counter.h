// A counter that many threads bump on hot paths (sessions finished, chunks processed). Each
// thread adds to its own cache line, picked once per thread, so increments from different
// threads do not fight over one line; Value() sums the lines and is meant for scrapes.
//
// Add takes negative deltas too, which makes it a gauge of something many threads move up and
// down (bytes in flight). A sum taken while threads add is not a snapshot: such a gauge can be
// off by the updates racing with the read (even briefly negative), never by more.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace batchd {

class ShardedCounter {
 public:
  void Add(int64_t delta) {
    shards_[ThisThreadShard()].value.fetch_add(delta, std::memory_order_relaxed);
  }
  void Increment() { Add(1); }

  int64_t Value() const {
    int64_t sum = 0;
    for (const Shard& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  // More shards than the machines we run on have cores is wasted memory (64 bytes each);
  // fewer only means two threads sometimes share a line, which is still correct.
  static constexpr size_t kShards = 16;

  struct alignas(64) Shard {
    std::atomic<int64_t> value{0};
  };

  static size_t ThisThreadShard() {
    static std::atomic<size_t> next{0};
    thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shard;
  }

  std::array<Shard, kShards> shards_{};
};

}  // namespace batchd
