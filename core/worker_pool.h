// A fixed number of threads running queued tasks, for CPU work that must stay off the HTTP
// threads (parsing and validating a submitted batch, say). The queue is bounded: when it is
// full, Submit refuses and the caller answers "busy" instead of letting memory grow.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"

namespace batchd {

class WorkerPool {
 public:
  using Task = std::function<void()>;

  // `threads` == 0 makes a pool without threads whose Submit runs each task at once on the
  // caller's thread: for tests and fuzzers that must replay a run exactly, without thread hops.
  WorkerPool(int threads, size_t queue_limit) : queue_(queue_limit), run_inline_(threads == 0) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        while (std::optional<Task> task = queue_.Pop()) (*task)();
      });
    }
  }
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False (task not run, not kept) when the queue is full or the pool stopped. Tasks must not
  // throw.
  bool Submit(Task task) {
    if (run_inline_) return RunInline(task);
    return queue_.TryPush(task);
  }

  // Queues `task` even past the queue limit. For producers whose outstanding tasks are already
  // bounded by something else (the chunk pipeline: by each session's reads in flight), which
  // must never see a refusal. Must not be called after Stop(): the task would never run.
  void SubmitAlways(Task task) {
    if (run_inline_) {
      RunInline(task);
      return;
    }
    queue_.PushBack(std::move(task));
  }

  size_t QueueDepth() const { return queue_.size(); }

  // Runs what is queued, then joins. Idempotent.
  void Stop() {
    queue_.Close();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

 private:
  // False once stopped, as a full queue would answer.
  bool RunInline(Task& task) {
    if (queue_.closed()) return false;
    task();
    return true;
  }

  BoundedQueue<Task> queue_;
  const bool run_inline_;  // constant after construction
  std::vector<std::thread> threads_;
};

}  // namespace batchd
