// A byte buffer that ends exactly where an inaccessible page begins, so that reading or writing
// even one byte past its end crashes the test at once, also inside liblz4, libzstd and
// libblosc, which AddressSanitizer does not instrument. The codec tests put every input and
// output in one of these.
#pragma once

#include <cstddef>

#include "pipeline/bytes.h"

namespace batchd::pipeline::testing {

class GuardedBuffer {
 public:
  // `size` bytes, zero-filled. Aborts the test binary if the pages cannot be mapped.
  explicit GuardedBuffer(size_t size);
  // A copy of `contents`.
  explicit GuardedBuffer(ByteView contents);
  ~GuardedBuffer();

  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  MutableByteView span() { return {data_, size_}; }
  ByteView view() const { return {data_, size_}; }
  size_t size() const { return size_; }

  // The last `n` bytes (n <= size()): a span of any length that still ends at the guard, so one
  // buffer serves many sizes without a new mapping each time.
  MutableByteView Tail(size_t n) { return span().last(n); }
  // Copies `contents` (no longer than size()) into the tail and returns that view.
  ByteView Place(ByteView contents);

 private:
  void* mapping_;        // constant after construction
  size_t mapping_size_;  // constant after construction
  uint8_t* data_;        // constant after construction: ends at the guard page
  size_t size_;          // constant after construction
};

}  // namespace batchd::pipeline::testing
