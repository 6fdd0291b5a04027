// Array -> array steps of a chunk's codec chain, and their registry: zarr v2 "filters" (numcodecs
// Delta, FixedScaleOffset) and zarr v3 array -> array codecs (transpose, which also serves zarr
// v2 `order: "F"`). A filter changes the elements of a chunk, not its compression; it sits
// between the array and the bytes codec (codec.h), and a chain of them is applied in order on
// encode and in reverse after the bytes codec on decode (chunk_codec_chain.h).
//
// A filter is built from a JSON config whose "id" names it, in numcodecs' (or zarr v3's)
// spelling:
//   {"id": "delta", "dtype": "<i4", "astype": "<i4"}
//   {"id": "fixedscaleoffset", "offset": 1000, "scale": 10, "dtype": "<f8", "astype": "<i2"}
//   {"id": "transpose", "order": [1, 0]}
// docs/pipeline.md ("Filters") gives each one's exact semantics and the type pairs it accepts.
//
// Recipe for a new filter: implement Filter, add a factory in RegisterBuiltinFilters, and add it
// to tests/unit/pipeline/filter_conformance_test.cpp. delta_filter.cpp is the reference.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/formats/dtype.h"

namespace batchd::pipeline {

// Where in a chain a filter sits.
struct FilterContext {
  // The elements the filter is given on encode (and must give back on decode): the array's
  // dtype for the first filter, the previous filter's EncodedType() after that. numcodecs views
  // those bytes as the filter's own "dtype", so only the element size must agree.
  DataType dtype;
  // The chunk's shape (every chunk is stored at full shape, edge chunks included).
  std::vector<int64_t> chunk_shape;
};

// Immutable after construction, so one instance is shared by every thread.
class Filter {
 public:
  virtual ~Filter() = default;

  // The config this filter runs with, every default filled in: creating a filter from it gives
  // one that behaves the same.
  virtual nlohmann::json ToJson() const = 0;

  // The element type on each side: DecodedType() is what DecodeInto writes (its size is the
  // context dtype's), EncodedType() what it reads. Every filter keeps the element count.
  virtual DataType DecodedType() const = 0;
  virtual DataType EncodedType() const = 0;

  // Decodes `in` (n elements of EncodedType()) into `out` (n elements of DecodedType()).
  // kCorrupt, with a message naming the filter, when the sizes do not describe the same whole
  // number of elements (or, for a shape-aware filter, not one chunk), or when an element
  // decodes to a value its type cannot hold. Never reads or writes outside the two spans; `out`
  // is unspecified after a failure.
  virtual Status DecodeInto(ByteView in, MutableByteView out) const = 0;

  // Encodes `in` (n elements of DecodedType()), replacing the contents of `out`.
  // kInvalidArgument when `in` is not a whole number of elements (one chunk for a shape-aware
  // filter) or a value does not fit EncodedType().
  virtual Status Encode(ByteView in, Bytes& out) const = 0;
};

// Filled once at start-up (RegisterBuiltinFilters) and read-only afterwards, so Create may then
// be called from any thread without a lock.
class FilterRegistry {
 public:
  using Factory = std::function<Result<std::unique_ptr<const Filter>>(
      const nlohmann::json& config, const FilterContext& context)>;

  // Replaces any factory registered under `id`.
  void Register(std::string id, Factory factory);

  // Builds the filter config["id"] names. kInvalidArgument, with a message naming the filter
  // and the offending member (its JSON Pointer as the path), for an unknown id (listing the
  // known ones), a missing or malformed member, a member the filter does not have, or a
  // dtype/astype pair it does not support.
  Result<std::unique_ptr<const Filter>> Create(const nlohmann::json& config,
                                               const FilterContext& context) const;

  std::vector<std::string> Ids() const { return factories_.Names(); }

 private:
  Registry<Factory> factories_;
};

// Registers delta, fixedscaleoffset and transpose.
void RegisterBuiltinFilters(FilterRegistry& registry);

}  // namespace batchd::pipeline
