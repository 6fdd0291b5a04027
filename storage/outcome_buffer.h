// Group commit for the scheduler's writes: execution states saved at dequeue and outcomes of
// finished sessions are buffered here, and one flush job at a time writes everything buffered
// so far in one transaction. While the writer is busy, the next flush simply grows, so the
// cost per session falls as load rises.
//
// A flush that cannot commit (a full disk, a damaged page) loses nothing: its entries go back
// to the front of the buffer, in their order, and are written again after a delay (100 ms,
// doubling to 5 s) until they commit; their `done` callbacks wait for that. Meanwhile claims
// are refused (ReadyForClaims), so sessions whose outcome is not stored are never joined by
// new ones in the database, and the buffer stays bounded: by the slots (one outcome and one
// saved state each) and one checkpoint per running session (later ones replace it).
#pragma once

#include <atomic>
#include <string>
#include <variant>
#include <vector>

#include "core/log_throttle.h"
#include "core/mutex.h"
#include "storage/retry_timer.h"
#include "storage/session_transitions.h"
#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {

class OutcomeBuffer {
 public:
  // `merge_results` (may be empty) folds completed sessions' results into their batch's.
  // Failed flushes are tried again through `retries`, which must outlive the buffer.
  OutcomeBuffer(Writer& writer, RetryTimer& retries, ResultMerger merge_results)
      : writer_(writer), retries_(retries), merge_results_(std::move(merge_results)) {}

  // Hears of every applied outcome inside the flush's transaction. Set before the first
  // outcome arrives; `observer` must outlive the buffer.
  void SetObserver(SessionTransitionObserver* observer) { observer_ = observer; }

  // Compresses on the calling thread, keeping that work off the single writer.
  void SaveExecutionState(int64_t session_id, std::string_view state_json, int64_t started_at_ms);
  void SaveCheckpoint(CheckpointUpdate checkpoint);
  // `done` gets true/false once the outcome is stored (Store::FinishSession), however many
  // tries that takes; an error only if the store closes first (the session then stays
  // in_progress, and the next start requeues it).
  void FinishSession(SessionOutcome outcome, Callback<bool> done);

  // Ok, or kUnavailable while a failed flush's entries wait to be written again. Called by the
  // claim job on the writer thread; it also sees a flush that failed earlier in its round.
  Status ReadyForClaims() const;

  // Entries (outcomes, states, checkpoints) waiting to be written again; 0 while flushes commit.
  size_t Unstored() const { return unstored_.load(std::memory_order_relaxed); }

  // Before the writer stops: what waits for a retry is flushed once more at once, and from now
  // on a failed flush gives up (its `done` callbacks get the error). Idempotent.
  void Stop();

  struct SavedState {
    int64_t session_id;
    std::string state_blob;  // compressed (json_blob.h)
    int64_t started_at_ms;
  };
  struct Finished {
    SessionOutcome outcome;
    Callback<bool> done;
  };
  using Entry = std::variant<SavedState, CheckpointUpdate, Finished>;

 private:
  friend class OutcomeFlushJob;
  void Add(Entry entry);
  std::vector<Entry> TakeAll();
  void SubmitFlush();
  // From a failed flush (writer thread): `entries` go back before what came since.
  void Requeue(std::vector<Entry> entries, const Status& why);
  void OnStored();    // a flush committed: everything held before it is stored
  void OnRetryDue();  // on the timer's thread
  // Appends `entry` to pending_, a checkpoint replacing its session's earlier one while
  // entries are held (mu_ held).
  void AppendLocked(Entry entry) REQUIRES(mu_);
  static void GiveUp(std::vector<Entry>& entries, const Status& why);

  Writer& writer_;
  RetryTimer& retries_;
  const ResultMerger merge_results_;
  SessionTransitionObserver* observer_ = nullptr;  // constant once outcomes flow
  mutable Mutex mu_;
  std::vector<Entry> pending_ GUARDED_BY(mu_);  // in call order
  bool flush_queued_ GUARDED_BY(mu_) = false;   // a flush job is queued and has not taken yet
  bool retry_due_ GUARDED_BY(mu_) = false;      // a retry is set on the timer; no flush before it
  bool stopping_ GUARDED_BY(mu_) = false;
  RetryBackoff backoff_{std::chrono::milliseconds(100), std::chrono::seconds(5)};  // mu_
  // Set when a flush fails (in its step, so the claims after it in the same round see it),
  // cleared when a flush commits.
  std::atomic<bool> holding_{false};
  std::atomic<size_t> unstored_{0};
  LogThrottle retry_log_;
};

}  // namespace batchd::storage
