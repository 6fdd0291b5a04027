// Array formats: how an array's metadata is read from its store. A format turns its own
// documents (.zarray, zarr.json) or the job's source spec (raw) into an ArrayMetadata, and
// refuses, by name, anything the pipeline would otherwise read wrongly (F order, filters,
// sharding, an unknown codec): a clear session error is always better than wrong numbers.
//
// Recipe for a new format: implement ArrayFormat, register it in RegisterBuiltinFormats, and
// add it to tests/unit/pipeline/format_conformance_test.cpp. zarr_v2_format.cpp is the
// reference.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "core/status.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/formats/array_metadata.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

class ArrayFormat {
 public:
  virtual ~ArrayFormat() = default;

  // Reads the metadata of the array at the root of `store`. `source` is the job's "source"
  // object (the raw format takes its shape, chunks, dtype and codec from it). Blocking: it may
  // read documents from the store, so it runs on a scheduler thread, never on a store thread.
  // kNotFound when the array's metadata document does not exist; kInvalidArgument naming the
  // document and member when it is unsupported or malformed; store errors as they come.
  virtual Result<ArrayMetadata> Open(ChunkStore& store, const nlohmann::json& source) const = 0;
};

class FormatRegistry {
 public:
  // Replaces any format registered under `name` ("zarr2", "zarr3", "raw").
  void Register(std::string name, std::unique_ptr<ArrayFormat> format);

  // Opens the array with the format source["format"] names; when it is absent or "auto", the
  // first of zarr2, zarr3 whose metadata document exists. kInvalidArgument for an unknown
  // format name (listing the known ones) or when no metadata document is found.
  Result<ArrayMetadata> Open(ChunkStore& store, const nlohmann::json& source) const;

  std::vector<std::string> Names() const { return formats_.Names(); }

 private:
  Registry<std::unique_ptr<ArrayFormat>> formats_;
};

// Registers zarr2, zarr3 and raw. The codec registry checks, at open, that every codec the
// metadata names exists and accepts its config; it must outlive `registry`.
void RegisterBuiltinFormats(FormatRegistry& registry, const CodecRegistry& codecs);

// The .zarray document for `array` (zarr v2, C order, no filters), as zarr-python writes it.
// Used by transcode to describe the arrays it writes.
std::string ZarrV2ArrayDocument(const ArrayMetadata& array);

// The zarr.json document for `array` as a zarr v3 array (zarr_v3_document.cpp): its chunks
// [bytes, compressor], or, when array.shards is set, one sharding_indexed codec whose grid is
// the shard shape and whose inner chunks have that chain. `attributes` (an object, or null
// for none) become its "attributes". kInvalidArgument when the codec has no zarr v3 spelling
// (lz4, zlib, bz2; blosc with automatic shuffle).
Result<std::string> ZarrV3ArrayDocument(const ArrayMetadata& array,
                                        const nlohmann::json& attributes);

}  // namespace batchd::pipeline
