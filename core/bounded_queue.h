// A multi-producer, multi-consumer FIFO with a fixed capacity, used wherever work is handed
// between threads. Producers never block: TryPush refuses when full, so callers turn a full
// queue into back-pressure (HTTP 503) instead of unbounded memory.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "core/mutex.h"

namespace batchd {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Appends `item` unless the queue is full or closed; on refusal `item` is left untouched.
  bool TryPush(T& item) {
    {
      MutexLock lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    ready_.Signal();
    return true;
  }

  // Appends even past capacity. For consumers putting back work they already took (a sliced
  // job yielding its turn), which must never be refused. Works after Close() too, so that
  // consumers can still finish what they hold.
  void PushBack(T item) {
    {
      MutexLock lock(mu_);
      items_.push_back(std::move(item));
    }
    ready_.Signal();
  }

  // Waits for at least one item and takes up to `max_items`. Returns an empty vector only when
  // the queue is closed and drained.
  std::vector<T> PopBatch(size_t max_items) {
    MutexLock lock(mu_);
    while (!closed_ && items_.empty()) ready_.Wait(mu_);
    std::vector<T> out;
    while (!items_.empty() && out.size() < max_items) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return out;
  }

  // Waits for one item; nullopt when closed and drained.
  std::optional<T> Pop() {
    std::vector<T> one = PopBatch(1);
    if (one.empty()) return std::nullopt;
    return std::move(one.front());
  }

  // Refuses further TryPush; consumers drain what is left, then Pop returns nullopt.
  void Close() {
    {
      MutexLock lock(mu_);
      closed_ = true;
    }
    ready_.SignalAll();
  }

  bool closed() const {
    MutexLock lock(mu_);
    return closed_;
  }

  size_t size() const {
    MutexLock lock(mu_);
    return items_.size();
  }

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  CondVar ready_;
  std::deque<T> items_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace batchd
