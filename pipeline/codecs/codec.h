// Bytes -> bytes codecs (compressors) for chunk data, and their registry.
//
// A codec is built from a JSON config whose "id" names it, in numcodecs' spelling:
//   {"id": "raw"}                                   no compression
//   {"id": "lz4", "acceleration": 1}                numcodecs LZ4: 4-byte LE decoded size + block
//   {"id": "zstd", "level": 1, "checksum": false}   standard zstd frame(s)
//   {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}
//   {"id": "zlib", "level": 1}                      one zlib stream (RFC 1950)
//   {"id": "gzip", "level": 1}                      gzip member(s) (RFC 1952)
//   {"id": "bz2", "level": 1}                       bzip2 stream(s)
//   {"id": "crc32c"}                                zarr v3: the bytes + their CRC-32C (LE)
// (the values shown are the defaults, numcodecs' own). The array formats (zarr v2 "compressor",
// zarr v3 "codecs", the raw format's "codec") turn their own spelling into one of these.
// docs/pipeline.md ("Codecs") describes each wire format exactly.
//
// Recipe for a new codec: implement Codec, add a factory in RegisterBuiltinCodecs, and add it to
// the conformance suite (tests/unit/pipeline/codec_conformance_test.cpp). zstd_codec.cpp is the
// reference implementation.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/filters/filter.h"

namespace batchd::pipeline {

// What a codec may need to know about the data it compresses.
struct CodecContext {
  // Bytes per array element, at least 1: blosc's typesize, the unit its shuffle works on.
  // Decoding never depends on it (blosc records it in its header).
  size_t element_size = 1;
};

// Immutable after construction, so one instance is shared by every thread.
class Codec {
 public:
  virtual ~Codec() = default;

  // The config this codec runs with, every default filled in: creating a codec from it gives
  // one that behaves the same (the round-trip property the conformance suite checks).
  virtual nlohmann::json ToJson() const = 0;

  // Decodes `in` into exactly `out.size()` bytes (the caller knows the decoded size: a chunk's
  // element count times the element size). Fails with kCorrupt, and a message saying what was
  // wrong (not a frame, truncated, decodes to N bytes instead of M), when `in` is not a valid
  // encoding of that many bytes. Never reads or writes outside the two spans, whatever `in`
  // holds; `out` is unspecified after a failure.
  virtual Status DecodeInto(ByteView in, MutableByteView out) const = 0;

  // Encodes `in`, replacing the contents of `out`. Fails with kInvalidArgument only for a chunk
  // larger than the format holds (lz4 and blosc: about 2 GiB), otherwise only on a library
  // error (kInternal).
  virtual Status Encode(ByteView in, Bytes& out) const = 0;

  // What `in` decodes to, when the encoding itself says (crc32c: 4 bytes fewer); nullopt when
  // only the caller knows (compressors) or `in` cannot be an encoding. A codec that answers can
  // follow a compressor in a chain (ChunkCodecChain), whose output size nobody else knows.
  virtual std::optional<size_t> DecodedSize(ByteView in) const { return std::nullopt; }
};

// Filled once at start-up (RegisterBuiltinCodecs) and read-only afterwards, so Create may then
// be called from any thread without a lock.
class CodecRegistry {
 public:
  using Factory = std::function<Result<std::unique_ptr<const Codec>>(const nlohmann::json& config,
                                                                     const CodecContext& context)>;

  // Replaces any factory registered under `id`.
  void Register(std::string id, Factory factory);

  // Builds the codec config["id"] names. kInvalidArgument, with a message naming the codec and
  // the offending member and that member's JSON Pointer as the path, for an unknown id, a bad
  // config (unknown cname, level out of range, wrong member type, a member the codec does not
  // have) or an element size of 0.
  Result<std::unique_ptr<const Codec>> Create(const nlohmann::json& config,
                                              const CodecContext& context) const;

  std::vector<std::string> Ids() const { return factories_.Names(); }

  // The array -> array filters a chunk's chain may run before the codec (zarr v2 "filters",
  // zarr v3 array -> array codecs). They live here because everything that builds a chain (the
  // formats checking metadata, the ops running sessions) needs both kinds, and zarr v3 calls
  // both codecs.
  FilterRegistry& filters() { return filters_; }
  const FilterRegistry& filters() const { return filters_; }

 private:
  Registry<Factory> factories_;
  FilterRegistry filters_;
};

// Registers raw, lz4, zstd, blosc, zlib, gzip, bz2 and crc32c, and the built-in filters
// (RegisterBuiltinFilters: delta, fixedscaleoffset, transpose).
void RegisterBuiltinCodecs(CodecRegistry& registry);

}  // namespace batchd::pipeline
