// WorkerPool: tasks run on its threads, a full queue refuses, and a pool of zero threads runs
// each task at once on the caller's thread (the fuzzers' deterministic mode).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/worker_pool.h"

namespace batchd {
namespace {

TEST(WorkerPoolTest, RunsTasksOnItsThreads) {
  std::atomic<int> ran{0};
  std::atomic<bool> on_caller{false};
  const std::thread::id caller = std::this_thread::get_id();
  {
    WorkerPool pool(2, 16);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(pool.Submit([&] {
        if (std::this_thread::get_id() == caller) on_caller = true;
        ++ran;
      }));
    }
    pool.Stop();  // runs what is queued
  }
  EXPECT_EQ(ran, 10);
  EXPECT_FALSE(on_caller);
}

TEST(WorkerPoolTest, ZeroThreadsRunOnTheCallerAtOnce) {
  WorkerPool pool(0, 1);
  const std::thread::id caller = std::this_thread::get_id();
  int ran = 0;
  // More tasks than the queue limit: nothing is queued, so nothing is refused.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
      EXPECT_EQ(std::this_thread::get_id(), caller);
      ++ran;
    }));
    EXPECT_EQ(ran, i + 1);
  }
  pool.SubmitAlways([&] { ++ran; });
  EXPECT_EQ(ran, 4);
  pool.Stop();
  EXPECT_FALSE(pool.Submit([&] { ++ran; }));
  EXPECT_EQ(ran, 4);
}

}  // namespace
}  // namespace batchd
