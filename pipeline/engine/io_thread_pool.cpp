#include "pipeline/engine/io_thread_pool.h"

namespace batchd::pipeline {

IoThreadPool::IoThreadPool(int threads, size_t queue_limit)
    : queue_(std::make_shared<BoundedQueue<Task>>(queue_limit)) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    threads_.emplace_back([queue = queue_] {
      while (std::optional<Task> task = queue->Pop()) (*task)();
    });
  }
}

IoThreadPool::~IoThreadPool() {
  queue_->Close();
  for (std::thread& thread : threads_) {
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
}

bool IoThreadPool::TrySubmit(Task& task) { return queue_->TryPush(task); }

}  // namespace batchd::pipeline
