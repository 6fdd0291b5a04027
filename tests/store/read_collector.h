// Collects the callbacks of one GetMany (or several): how often each index was reported and
// what it got, and waits until every index has been. Its state is shared with the callbacks,
// so a callback that came late (a bug the test is about to report) cannot touch freed memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/stores/chunk_store.h"

namespace batchd::testing {

class ReadCollector {
 public:
  using ReadResult = Result<std::optional<pipeline::Bytes>>;

  explicit ReadCollector(size_t keys) : state_(std::make_shared<State>(keys)) {}

  pipeline::ChunkStore::ReadCallback Callback() const {
    return [state = state_](size_t i, ReadResult result) {
      std::lock_guard lock(state->mu);
      if (i >= state->calls.size()) {
        ++state->out_of_range;
      } else {
        if (state->calls[i]++ == 0) ++state->distinct;
        state->results[i].emplace(std::move(result));
      }
      state->changed.notify_all();
    };
  }

  // True once every index was reported at least once; false after `timeout`.
  bool WaitAll(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    std::unique_lock lock(state_->mu);
    return state_->changed.wait_for(lock, timeout,
                                    [&] { return state_->distinct == state_->calls.size(); });
  }

  // Indexes reported other than exactly once, and out-of-range indexes, as text ("" if none).
  std::string ExactlyOnceViolations() const {
    std::lock_guard lock(state_->mu);
    std::string out;
    for (size_t i = 0; i < state_->calls.size(); ++i) {
      if (state_->calls[i] != 1) {
        out += "index " + std::to_string(i) + " reported " + std::to_string(state_->calls[i]) +
               " times; ";
      }
    }
    if (state_->out_of_range) out += std::to_string(state_->out_of_range) + " out of range; ";
    return out;
  }

  // The result of index i (it must have been reported).
  const ReadResult& result(size_t i) const {
    std::lock_guard lock(state_->mu);
    return *state_->results[i];
  }

 private:
  struct State {
    explicit State(size_t n) : calls(n, 0), results(n) {}
    std::mutex mu;
    std::condition_variable changed;
    std::vector<int> calls;
    std::vector<std::optional<ReadResult>> results;
    size_t distinct = 0;
    int out_of_range = 0;
  };
  std::shared_ptr<State> state_;
};

// Counts completions of Put calls (or anything else called back a known number of times) and
// keeps the failures.
class DoneCounter {
 public:
  pipeline::ChunkStore::WriteCallback Callback() const {
    return [state = state_](Status status) {
      std::lock_guard lock(state->mu);
      ++state->done;
      if (!status.ok()) state->failures.push_back(status.ToString());
      state->changed.notify_all();
    };
  }

  // True once `count` callbacks came; false after `timeout`.
  bool WaitFor(int count, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    std::unique_lock lock(state_->mu);
    return state_->changed.wait_for(lock, timeout, [&] { return state_->done >= count; });
  }

  std::vector<std::string> failures() const {
    std::lock_guard lock(state_->mu);
    return state_->failures;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable changed;
    int done = 0;
    std::vector<std::string> failures;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace batchd::testing
