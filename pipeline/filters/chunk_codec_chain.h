// A chunk's whole codec chain, as the pipeline runs it: the array -> array filters (filter.h),
// in encode order, then one bytes -> bytes codec (codec.h), then any outer bytes -> bytes codecs
// whose decoded size their input gives (a zarr v3 crc32c). Decoding runs the outer codecs and
// the codec, then the filters in reverse, and ends with the array's elements in its dtype and in C
// order (a zarr v2 F-order array has a transpose filter first). Arrays without filters decode
// straight into the caller's buffer, as before filters existed.
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/filters/filter.h"
#include "pipeline/formats/array_metadata.h"

namespace batchd::pipeline {

// Immutable after construction, so one instance is shared by every decode thread.
class ChunkCodecChain {
 public:
  // The bytes codec alone.
  explicit ChunkCodecChain(std::shared_ptr<const Codec> codec) : codec_(std::move(codec)) {}

  // The chain `array` describes: array.filters, each built for the elements the one before it
  // gives (the array's dtype for the first), then array.codec, then array.outer_codecs.
  // kInvalidArgument with the filter's or codec's own message (naming it and the member) when
  // one is unknown or refused, or an outer codec does not know its decoded size.
  static Result<std::shared_ptr<const ChunkCodecChain>> Create(const CodecRegistry& codecs,
                                                               const ArrayMetadata& array);

  // Decodes one stored chunk into exactly `out.size()` bytes (a whole chunk of the array's
  // dtype). kCorrupt from the codec or a filter, with its message, when `in` does not decode to
  // that; never reads or writes outside the spans.
  Status DecodeInto(ByteView in, MutableByteView out) const;

  // Encodes one chunk (the inverse of DecodeInto), replacing `out`.
  Status Encode(ByteView in, Bytes& out) const;

  // What the bytes codec decodes a chunk of `chunk_bytes` (the array's) to: the elements the
  // last filter stores, which may be wider or narrower than the array's.
  size_t StoredBytes(size_t chunk_bytes) const;

  const Codec& codec() const { return *codec_; }
  bool has_filters() const { return !filters_.empty(); }
  bool has_outer_codecs() const { return !outer_.empty(); }

 private:
  ChunkCodecChain(std::shared_ptr<const Codec> codec,
                  std::vector<std::unique_ptr<const Filter>> filters,
                  std::vector<std::unique_ptr<const Codec>> outer, int array_element_size)
      : codec_(std::move(codec)),
        filters_(std::move(filters)),
        outer_(std::move(outer)),
        array_element_size_(array_element_size) {}

  // The filters' part of DecodeInto: `stored` is what the codec decoded.
  Status DecodeFilters(ByteView in, MutableByteView out) const;

  std::shared_ptr<const Codec> codec_;
  std::vector<std::unique_ptr<const Filter>> filters_;  // encode order
  std::vector<std::unique_ptr<const Codec>> outer_;     // encode order, after codec_
  int array_element_size_ = 1;
};

// Builds the filters of `array.filters` in order, for elements of `array.dtype` and chunks of
// `array.chunk_shape`; what ChunkCodecChain::Create and the formats' checks share.
Result<std::vector<std::unique_ptr<const Filter>>> CreateFilters(const FilterRegistry& registry,
                                                                 const ArrayMetadata& array);

}  // namespace batchd::pipeline
