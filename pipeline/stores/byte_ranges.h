// Byte ranges of one stored value (ChunkStore::GetRanges): what a caller asks for, how nearby
// ranges are merged into fewer reads, and how the bytes of a read are handed back per range.
// A sharded zarr v3 array reads its shard index (the last N bytes, or the first N) and then its
// inner chunks this way, so that a store reads only what is asked for.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/bytes.h"

namespace batchd::pipeline {

// `length` bytes from `offset`; or, when `suffix` is set, the last `length` bytes of the value
// (`offset` is then ignored). `length` is at least 1.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool suffix = false;

  static ByteRange Suffix(uint64_t length) {
    return {.offset = 0, .length = length, .suffix = true};
  }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// One read a store makes for some of the asked ranges: `span` covers each of `parts` (indexes
// into the asked ranges, ascending by offset).
struct RangeRead {
  ByteRange span;
  std::vector<size_t> parts;
};

// Reads separated by at most this many unasked bytes are merged (reading a small gap costs less
// than another request), as long as the merged read stays within kMaxCoalescedBytes.
constexpr uint64_t kCoalesceGapBytes = 64 << 10;
constexpr uint64_t kMaxCoalescedBytes = 16 << 20;

// An empty list, and ranges of length 0 or whose end overflows, are refused (kInvalidArgument
// naming the range).
Status ValidateRanges(std::span<const ByteRange> ranges);

// The reads that cover `ranges` (already validated): ranges sorted by offset, merged when they
// overlap, touch or lie at most `max_gap` bytes apart and the merged read is at most
// `max_bytes` long (one range longer than that is read alone). A suffix range is never merged:
// where it starts is not known before the value's size is.
std::vector<RangeRead> CoalesceRanges(std::span<const ByteRange> ranges,
                                      uint64_t max_gap = kCoalesceGapBytes,
                                      uint64_t max_bytes = kMaxCoalescedBytes);

// Copies each part of `read` out of `span_bytes` (the bytes of read.span) into out[part]
// (out has one entry per asked range).
void ScatterRead(const RangeRead& read, ByteView span_bytes, std::span<const ByteRange> ranges,
                 std::vector<Bytes>& out);

// Each of `ranges` cut out of a whole value: the fallback of stores that cannot read a part.
// kCorrupt naming `what` (the key and store) and the value's size when a range is past its end.
Result<std::vector<Bytes>> SliceRanges(ByteView value, std::span<const ByteRange> ranges,
                                       const std::string& what);

// "range [a, b) of <what> is past the end of its N bytes": the error of a range past the end.
Status RangePastEnd(const ByteRange& range, uint64_t size, const std::string& what);

// "bytes=a-b" or "bytes=-n", as an HTTP Range header says it.
std::string HttpRangeHeader(const ByteRange& range);

}  // namespace batchd::pipeline
