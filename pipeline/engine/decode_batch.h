// What a decode task did with the chunks it took from one session in one go (about 256 KiB of
// decoded bytes, at most 64 chunks, one when they are larger), kept on its thread without a lock
// and folded into the session under one lock at the end of the batch: for chunks of a few KiB,
// taking the session's lock once per chunk would cost more than the chunk's work.
//
// The thread's current batch: while a Scope is open on a thread, Current(owner) on that thread
// returns the batch if `owner` (the session's pipeline) made it, and null otherwise. A consumer
// that finishes a chunk inside Process (stats does) reaches the pipeline again on the same thread,
// which adds the outcome to the batch instead of taking the lock; one that finishes later or on
// another thread (transcode, when its write completes) finds no batch and is folded at once.
// Scopes nest: closing one makes the batch of the enclosing scope current again.
//
// The batch is plain data for the pipeline (chunk_pipeline.cpp) to fill and fold; Current is
// inline and costs one thread-local load and a compare.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "pipeline/engine/chunk_consumer.h"
#include "pipeline/engine/direct_read_policy.h"

namespace batchd::pipeline {

class DecodeBatch {
 public:
  // One chunk that left the pipeline: folded when `contribution` is set, failed when `error` is,
  // dropped (the session stopped) when neither.
  struct Outcome {
    int64_t number;
    Status error;
    std::unique_ptr<ChunkContribution> contribution;
  };

  // Makes `batch` the current one on this thread until the scope closes.
  class Scope {
   public:
    explicit Scope(DecodeBatch& batch) : enclosing_(current_) { current_ = &batch; }
    ~Scope() { current_ = enclosing_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    DecodeBatch* const enclosing_;
  };

  explicit DecodeBatch(const void* owner) : owner_(owner) {}
  DecodeBatch(const DecodeBatch&) = delete;
  DecodeBatch& operator=(const DecodeBatch&) = delete;

  // This thread's current batch if `owner` made it, else null.
  static DecodeBatch* Current(const void* owner) {
    return current_ != nullptr && current_->owner_ == owner ? current_ : nullptr;
  }

  // Empties it for the next batch (the vectors keep their capacity).
  void Clear() {
    outcomes.clear();
    not_at_hand.clear();
    tries = {};
    bytes_read = 0;
  }

  std::vector<Outcome> outcomes;
  std::vector<int64_t> not_at_hand;  // direct reads that would have waited: read with GetMany
  DirectReadPolicy::Tries tries;     // what the batch's direct reads found
  int64_t bytes_read = 0;            // encoded bytes read directly, for live progress

 private:
  static inline thread_local constinit DecodeBatch* current_ = nullptr;

  const void* const owner_;
};

}  // namespace batchd::pipeline
