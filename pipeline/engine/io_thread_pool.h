// The threads that run file:// store I/O. Like core/worker_pool.h (a fixed number of threads,
// a bounded queue, refusal when full), with one difference that stores need: the pool may be
// destroyed from one of its own threads. Stores are shared_ptrs, and the last one is often
// dropped inside a read callback, which runs on a pool thread; joining that thread from itself
// would deadlock, so the destructor detaches it instead and the thread finishes the queue on
// its own before it exits.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"

namespace batchd::pipeline {

class IoThreadPool {
 public:
  using Task = std::function<void()>;

  IoThreadPool(int threads, size_t queue_limit);
  // Refuses new tasks, lets queued ones run (every submitted task runs exactly once), and joins
  // the threads; from a pool thread, detaches that thread, which drains the queue and exits.
  ~IoThreadPool();
  IoThreadPool(const IoThreadPool&) = delete;
  IoThreadPool& operator=(const IoThreadPool&) = delete;

  // False (task not kept) when the queue is full or the pool is being destroyed. Tasks must not
  // throw.
  bool TrySubmit(Task& task);

  int thread_count() const { return static_cast<int>(threads_.size()); }

  // Tasks waiting for a thread right now (a hint: it may change at once). A long task can keep
  // its thread while nothing waits instead of re-queueing itself.
  size_t queued() const { return queue_->size(); }

 private:
  // Shared with the threads, so a detached thread still has its queue after ~IoThreadPool.
  std::shared_ptr<BoundedQueue<Task>> queue_;
  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace batchd::pipeline
