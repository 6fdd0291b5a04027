// Group commit for the scheduler's writes: execution states saved at dequeue and outcomes of
// finished sessions are buffered here, and one flush job at a time writes everything buffered
// so far in one transaction. While the writer is busy, the next flush simply grows, so the
// cost per session falls as load rises.
#pragma once

#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "storage/session_transitions.h"
#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {

class OutcomeBuffer {
 public:
  // `merge_results` (may be empty) folds completed sessions' results into their batch's.
  OutcomeBuffer(Writer& writer, ResultMerger merge_results)
      : writer_(writer), merge_results_(std::move(merge_results)) {}

  // Hears of every applied outcome inside the flush's transaction. Set before the first
  // outcome arrives; `observer` must outlive the buffer.
  void SetObserver(SessionTransitionObserver* observer) { observer_ = observer; }

  // Compresses on the calling thread, keeping that work off the single writer.
  void SaveExecutionState(int64_t session_id, std::string_view state_json, int64_t started_at_ms);
  void SaveProgress(ProgressUpdate progress);
  void FinishSession(SessionOutcome outcome, Callback<bool> done);

  struct SavedState {
    int64_t session_id;
    std::string state_blob;  // compressed (json_blob.h)
    int64_t started_at_ms;
  };
  struct Finished {
    SessionOutcome outcome;
    Callback<bool> done;
  };
  using Entry = std::variant<SavedState, ProgressUpdate, Finished>;

 private:
  friend class OutcomeFlushJob;
  void Add(Entry entry);
  std::vector<Entry> TakeAll();

  Writer& writer_;
  const ResultMerger merge_results_;
  SessionTransitionObserver* observer_ = nullptr;  // constant once outcomes flow
  std::mutex mu_;
  std::vector<Entry> pending_;  // guarded by mu_, in call order
  bool flush_queued_ = false;   // guarded by mu_: a flush job is queued and has not taken yet
};

}  // namespace batchd::storage
