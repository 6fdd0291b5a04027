// Shared by the array formats (not part of the pipeline's public surface): reading a JSON
// metadata document from a store, and errors that name the document and the member.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/filters/chunk_codec_chain.h"
#include "pipeline/formats/array_format.h"

namespace batchd::pipeline {

// The document under `key`, parsed. kNotFound when it does not exist, kInvalidArgument when it
// is not JSON; store errors as they come.
Result<nlohmann::json> ReadJsonDocument(ChunkStore& store, const std::string& key);

// doc[name], or null when `doc` is not an object or has no such member. Formats read members
// with this (or MetadataErrors::String), never json::value(): value() throws when the member's
// type differs from the default's, and a document is whatever its writer put there.
nlohmann::json MemberOrNull(const nlohmann::json& doc, const char* name);

// Builds errors prefixed with where they come from: "file:///d/a.zarr/.zarray: ...".
class MetadataErrors {
 public:
  MetadataErrors(const ChunkStore& store, std::string document);

  Status Invalid(const std::string& what) const;
  // `status` with the document's prefix added to its message (OK stays OK).
  Status Check(const Status& status) const;

  // doc[name] as a list of integers.
  Result<std::vector<int64_t>> IntList(const nlohmann::json& doc, const char* name) const;

  // doc[name] as a string, `fallback` when `doc` has no such member (or is not an object);
  // kInvalidArgument naming the member when it is there but not a string.
  Result<std::string> String(const nlohmann::json& doc, const char* name,
                             std::string fallback) const;

  // The codec registry accepts `codec` for elements of `dtype`; `member` names where the
  // document configured it.
  Status CheckCodec(const CodecRegistry& codecs, const nlohmann::json& codec, const DataType& dtype,
                    const std::string& member) const;

  // The filters of `array` build for its dtype and chunk shape (a known id, every member
  // valid, a supported dtype/astype pair); `member` names where the document configured them.
  Status CheckFilters(const CodecRegistry& codecs, const ArrayMetadata& array,
                      const std::string& member) const;

 private:
  std::string prefix_;
};

std::unique_ptr<ArrayFormat> MakeZarrV2Format(const CodecRegistry& codecs);
std::unique_ptr<ArrayFormat> MakeZarrV3Format(const CodecRegistry& codecs);
std::unique_ptr<ArrayFormat> MakeRawFormat(const CodecRegistry& codecs);

}  // namespace batchd::pipeline
