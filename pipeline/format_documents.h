// Shared by the array formats (not part of the pipeline's public surface): reading a JSON
// metadata document from a store, and errors that name the document and the member.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/array_format.h"

namespace batchd::pipeline {

// The document under `key`, parsed. kNotFound when it does not exist, kInvalidArgument when it
// is not JSON; store errors as they come.
Result<nlohmann::json> ReadJsonDocument(ChunkStore& store, const std::string& key);

// Builds errors prefixed with where they come from: "file:///d/a.zarr/.zarray: ...".
class MetadataErrors {
 public:
  MetadataErrors(const ChunkStore& store, std::string document);

  Status Invalid(const std::string& what) const;
  // `status` with the document's prefix added to its message (OK stays OK).
  Status Check(const Status& status) const;

  // doc[name] as a list of integers.
  Result<std::vector<int64_t>> IntList(const nlohmann::json& doc, const char* name) const;

  // The codec registry accepts `codec` for elements of `dtype`; `member` names where the
  // document configured it.
  Status CheckCodec(const CodecRegistry& codecs, const nlohmann::json& codec, const DataType& dtype,
                    const std::string& member) const;

 private:
  std::string prefix_;
};

std::unique_ptr<ArrayFormat> MakeZarrV2Format(const CodecRegistry& codecs);
std::unique_ptr<ArrayFormat> MakeZarrV3Format(const CodecRegistry& codecs);
std::unique_ptr<ArrayFormat> MakeRawFormat(const CodecRegistry& codecs);

}  // namespace batchd::pipeline
