#include "pipeline/stores/byte_ranges.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace batchd::pipeline {
namespace {

std::string Describe(const ByteRange& range) {
  if (range.suffix) return "the last " + std::to_string(range.length) + " bytes";
  return "range [" + std::to_string(range.offset) + ", " +
         std::to_string(range.offset + range.length) + ")";
}

}  // namespace

Status ValidateRanges(std::span<const ByteRange> ranges) {
  if (ranges.empty()) return Status::InvalidArgument("no byte ranges asked for");
  for (const ByteRange& range : ranges) {
    if (range.length == 0) {
      return Status::InvalidArgument("a byte range must be at least 1 byte long");
    }
    if (!range.suffix && range.offset > UINT64_MAX - range.length) {
      return Status::InvalidArgument("byte range at " + std::to_string(range.offset) + " of " +
                                     std::to_string(range.length) + " bytes overflows");
    }
  }
  return Status::Ok();
}

std::vector<RangeRead> CoalesceRanges(std::span<const ByteRange> ranges, uint64_t max_gap,
                                      uint64_t max_bytes) {
  std::vector<size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (ranges[a].suffix != ranges[b].suffix) return ranges[b].suffix;  // suffixes last
    return ranges[a].offset < ranges[b].offset;
  });
  std::vector<RangeRead> reads;
  for (size_t i : order) {
    const ByteRange& range = ranges[i];
    if (!range.suffix && !reads.empty() && !reads.back().span.suffix) {
      ByteRange& span = reads.back().span;
      const uint64_t span_end = span.offset + span.length;
      const uint64_t end = std::max(span_end, range.offset + range.length);
      // Sorted by offset, so range.offset >= span.offset.
      if (range.offset <= span_end + std::min(max_gap, UINT64_MAX - span_end) &&
          end - span.offset <= max_bytes) {
        span.length = end - span.offset;
        reads.back().parts.push_back(i);
        continue;
      }
    }
    reads.push_back({.span = range, .parts = {i}});
  }
  return reads;
}

void ScatterRead(const RangeRead& read, ByteView span_bytes, std::span<const ByteRange> ranges,
                 std::vector<Bytes>& out) {
  for (size_t part : read.parts) {
    const ByteRange& range = ranges[part];
    const size_t begin = range.suffix ? 0 : static_cast<size_t>(range.offset - read.span.offset);
    out[part].assign(span_bytes.begin() + static_cast<std::ptrdiff_t>(begin),
                     span_bytes.begin() + static_cast<std::ptrdiff_t>(begin + range.length));
  }
}

Result<std::vector<Bytes>> SliceRanges(ByteView value, std::span<const ByteRange> ranges,
                                       const std::string& what) {
  std::vector<Bytes> out(ranges.size());
  const uint64_t size = value.size();
  for (size_t i = 0; i < ranges.size(); ++i) {
    const ByteRange& range = ranges[i];
    if (range.length > size || (!range.suffix && range.offset > size - range.length)) {
      return RangePastEnd(range, size, what);
    }
    const uint64_t begin = range.suffix ? size - range.length : range.offset;
    out[i].assign(value.begin() + static_cast<std::ptrdiff_t>(begin),
                  value.begin() + static_cast<std::ptrdiff_t>(begin + range.length));
  }
  return out;
}

Status RangePastEnd(const ByteRange& range, uint64_t size, const std::string& what) {
  return Status::Corrupt(Describe(range) + " of " + what + " is past the end of its " +
                         std::to_string(size) + " bytes");
}

std::string HttpRangeHeader(const ByteRange& range) {
  if (range.suffix) return "bytes=-" + std::to_string(range.length);
  return "bytes=" + std::to_string(range.offset) + "-" +
         std::to_string(range.offset + range.length - 1);
}

}  // namespace batchd::pipeline
