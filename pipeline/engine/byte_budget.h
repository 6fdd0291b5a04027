// A session's byte budget (PipelineLimits::bytes_in_flight): what bounds the chunks between the
// start of their read and the end of their processing, and so the session's memory.
//
// Each chunk holds one reservation of its decoded size from the moment it is taken (a store read
// issued for it, or a decode thread about to read it itself) until it leaves the pipeline (folded,
// failed or dropped). A reservation is granted when it fits in what is left of the limit, or when
// nothing at all is reserved: one chunk larger than the whole budget (a limit of 0 included)
// still passes, alone, so a session whose chunks exceed its budget runs one chunk at a time
// instead of never. "Full" means the next reservation is not granted; nobody waits on the budget
// itself: the pipeline simply starts no new read while it is full, and looks again whenever a
// chunk leaves (docs/pipeline.md, "The byte budget").
//
// Not thread-safe: the pipeline keeps it under its lock. The per-chunk calls are inline and cost
// a few integer operations.
#pragma once

#include <cassert>
#include <cstdint>

namespace batchd::pipeline {

class ByteBudget {
 public:
  // `limit` >= 0 bytes.
  explicit ByteBudget(int64_t limit) : limit_(limit) { assert(limit >= 0); }

  int64_t limit() const { return limit_; }
  int64_t reserved() const { return reserved_; }
  // Reservations held now: the chunks in the pipeline.
  int64_t holders() const { return holders_; }
  bool empty() const { return holders_ == 0; }

  // Whether a reservation of `bytes` (>= 0) would be granted now: it fits in what is left of the
  // limit (up to and including the limit exactly), or nothing is held.
  bool Fits(int64_t bytes) const { return reserved_ + bytes <= limit_ || holders_ == 0; }

  // Holds `bytes` if Fits(bytes); false (nothing held) when the budget is full for them.
  bool TryReserve(int64_t bytes) {
    if (!Fits(bytes)) return false;
    Hold(bytes);
    return true;
  }

  // Holds `bytes`, which must fit: for callers that counted how many fit first (Fitting).
  void Reserve(int64_t bytes) {
    assert(Fits(bytes) && "ByteBudget::Reserve past the budget");
    Hold(bytes);
  }

  // How many reservations of `each` (> 0) bytes TryReserve would grant one after the other now:
  // as many as fit in what is left, and at least one when nothing is held.
  int64_t Fitting(int64_t each) const;

  // Gives back one reservation of `bytes`. Giving back more bytes than are held, or a
  // reservation that was never made, is a bug in the caller (a debug check).
  void Release(int64_t bytes) {
    assert(holders_ > 0 && "ByteBudget::Release without a reservation");
    assert(bytes >= 0 && bytes <= reserved_ && "ByteBudget::Release of more than is reserved");
    reserved_ -= bytes;
    --holders_;
  }

 private:
  void Hold(int64_t bytes) {
    assert(bytes >= 0);
    reserved_ += bytes;
    ++holders_;
  }

  const int64_t limit_;
  int64_t reserved_ = 0;  // sum of the reservations held
  int64_t holders_ = 0;   // reservations held
};

}  // namespace batchd::pipeline
