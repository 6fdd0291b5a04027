// When a decode thread reads a chunk itself (ChunkStore::ReadNow: file:// over the page cache,
// preadv2 with RWF_NOWAIT) instead of leaving it to the store's own reads (GetMany, on its I/O
// threads). A cached read costs CPU like a decode, and handing a chunk from an I/O thread to a
// decode thread costs more than reading it, so direct reads come first; but a try that finds the
// data not at hand costs an open for nothing, so the policy stops trying where that is likely:
//
//   - kUnsupported (the store never reads on the caller's thread): the batch stops trying, and
//     once its batch is folded the session never tries again.
//   - kWouldWait (not at hand): the chunk goes to GetMany. After kMissesInARow such answers in a
//     row the batch stops trying (the rest of it goes to GetMany untried), and the session sends
//     the next kColdStretch chunks to GetMany before trying again: data that is not cached tends
//     to come in runs. Misses in a row carry over from batch to batch (a batch is one chunk when
//     chunks are large), and a hit (kRead or kMissing: the store answered) resets the count, so
//     a single chunk the page cache dropped costs no more than its own GetMany.
//   - an error is the chunk's error (it fails the session); it tells nothing about caching.
//
// Two halves, for the two places that know: Tries is one decode batch's record, kept by its
// decode thread without a lock (Record is inline: it runs per chunk); DirectReadPolicy is the
// session's, under the pipeline's lock, updated once per batch (EndBatch). Positions are indexes
// into the session's list of chunks to do (PendingChunks), in the order they are started.
#pragma once

#include <algorithm>
#include <cstddef>

#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

class DirectReadPolicy {
 public:
  static constexpr int kMissesInARow = 4;
  static constexpr size_t kColdStretch = 256;

  // What the direct reads of one decode batch found.
  class Tries {
   public:
    // Whether the batch's next chunk is worth a direct read; false once the batch gave up (the
    // store has no fast path, or kMissesInARow misses in a row): the rest goes to GetMany.
    bool worth_trying() const { return !gave_up_; }

    // One ReadNow answer (an error is not recorded: see above).
    void Record(ChunkStore::ReadNowOutcome outcome) {
      switch (outcome) {
        case ChunkStore::ReadNowOutcome::kRead:
        case ChunkStore::ReadNowOutcome::kMissing:
          any_hit_ = true;
          misses_in_a_row_ = 0;
          return;
        case ChunkStore::ReadNowOutcome::kUnsupported:
          unsupported_ = true;
          gave_up_ = true;
          return;
        case ChunkStore::ReadNowOutcome::kWouldWait:
          if (++misses_in_a_row_ >= kMissesInARow) gave_up_ = true;
          return;
      }
    }

   private:
    friend class DirectReadPolicy;
    int misses_in_a_row_ = 0;  // since the batch's last hit, or its start
    bool any_hit_ = false;     // a try found its chunk at hand
    bool gave_up_ = false;
    bool unsupported_ = false;  // the store said it never reads on our thread
  };

  // False once the store said it has no fast path: the session reads with GetMany only.
  bool enabled() const { return enabled_; }

  // Whether decode threads may read the chunk at `position` (the next to start) directly.
  bool AllowsAt(size_t position) const { return enabled_ && position >= resume_at_; }

  // Where GetMany windows stop taking chunks, of `pending` in all: while direct reads work, only
  // the cold stretch goes through GetMany (and the chunks a batch found not at hand, which the
  // pipeline queues apart).
  size_t WindowEnd(size_t pending) const {
    return enabled_ ? std::min(resume_at_, pending) : pending;
  }

  // Folds one batch's tries into the session's view; `position` is the next chunk to start.
  void EndBatch(const Tries& tries, size_t position);

 private:
  bool enabled_ = true;
  size_t resume_at_ = 0;     // the position from which direct reads may be tried again
  int misses_in_a_row_ = 0;  // over batches, since the last hit
};

}  // namespace batchd::pipeline
