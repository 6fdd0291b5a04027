// Regression (found by fuzz/zarr_v2_metadata_fuzzer and zarr_v3_metadata_fuzzer): the formats
// read members with json::value(key, default), which throws when the member's type differs from
// the default's ("filters": "C", "zarr_format": "3", a "configuration" that is a list). The
// exception left FormatRegistry::Open on the scheduler thread and ended the daemon. Every such
// document is now refused with kInvalidArgument naming the document, like any other bad one.
// The raw format had the same flaw for a "separator" that is not a string, from a client's job.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "memory_chunk_store.h"
#include "pipeline/formats/array_format.h"

namespace batchd::pipeline {
namespace {

using nlohmann::json;

class IssueMetadataMemberTypesTest : public ::testing::Test {
 protected:
  IssueMetadataMemberTypesTest() {
    RegisterBuiltinCodecs(codecs_);
    RegisterBuiltinFormats(formats_, codecs_);
  }

  // Opens `doc` as `key` with `format` and expects a refusal that names the document.
  void ExpectRefused(const char* format, const char* key, const json& doc) {
    testing::MemoryChunkStore store("memory://t/a.zarr");
    const std::string text = doc.dump();
    store.Set(key, Bytes(text.begin(), text.end()));
    Result<ArrayMetadata> opened = Status::Internal("not opened");
    ASSERT_NO_THROW(opened = formats_.Open(store, {{"format", format}})) << text;
    ASSERT_FALSE(opened.ok()) << text;
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << opened.status().ToString();
    EXPECT_NE(opened.status().message().find(key), std::string::npos) << opened.status().message();
  }

  json ZarrV2() const {
    return json::parse(R"({"zarr_format": 2, "shape": [37, 53], "chunks": [8, 16],
      "dtype": "<f4", "compressor": {"id": "zstd", "level": 3}, "fill_value": 0,
      "order": "C", "filters": null, "dimension_separator": "."})");
  }
  json ZarrV3() const {
    return json::parse(R"({"zarr_format": 3, "node_type": "array", "shape": [37, 53],
      "data_type": "float32",
      "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 16]}},
      "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
      "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
      {"name": "zstd", "configuration": {"level": 3, "checksum": false}}]})");
  }

  CodecRegistry codecs_;
  FormatRegistry formats_;
};

TEST_F(IssueMetadataMemberTypesTest, ZarrV2MembersOfTheWrongType) {
  for (const auto& [member, value] :
       std::vector<std::pair<std::string, json>>{{"zarr_format", "2"},
                                                 {"order", 1},
                                                 {"filters", "C"},
                                                 {"filters", json::array({3})},
                                                 {"filters", json::array({{{"id", 4}}})},
                                                 {"dimension_separator", json::array()}}) {
    json doc = ZarrV2();
    doc[member] = value;
    SCOPED_TRACE(member + " = " + value.dump());
    ExpectRefused("zarr2", ".zarray", doc);
  }
}

TEST_F(IssueMetadataMemberTypesTest, ZarrV3MembersOfTheWrongType) {
  for (const auto& [pointer, value] :
       std::vector<std::pair<std::string, json>>{{"/zarr_format", "3"},
                                                 {"/node_type", 1},
                                                 {"/chunk_grid/name", 1},
                                                 {"/chunk_grid/configuration", json::array()},
                                                 {"/chunk_key_encoding/name", json::object()},
                                                 {"/chunk_key_encoding/configuration", "/"},
                                                 {"/chunk_key_encoding/configuration/separator", 1},
                                                 {"/codecs/0/name", 1},
                                                 {"/codecs/0/configuration", 0},
                                                 {"/codecs/0/configuration/endian", true},
                                                 {"/codecs/1", "zstd"},
                                                 {"/codecs/1/configuration", json::array()},
                                                 {"/codecs/1/configuration/level", "3"},
                                                 {"/codecs/2", 7}}) {
    json doc = ZarrV3();
    doc[json::json_pointer(pointer)] = value;
    SCOPED_TRACE(pointer + " = " + value.dump());
    ExpectRefused("zarr3", "zarr.json", doc);
  }
}

TEST_F(IssueMetadataMemberTypesTest, ZarrV3BloscMembersOfTheWrongType) {
  for (const char* member : {"cname", "clevel", "blocksize"}) {
    json doc = ZarrV3();
    doc["data_type"] = "uint8";
    doc["codecs"][1] = {{"name", "blosc"}, {"configuration", {{member, json::array()}}}};
    SCOPED_TRACE(member);
    ExpectRefused("zarr3", "zarr.json", doc);
  }
}

TEST_F(IssueMetadataMemberTypesTest, RawSeparatorThatIsNotAString) {
  testing::MemoryChunkStore store("memory://t/raw");
  const json source = {{"url", "memory://t/raw"}, {"format", "raw"}, {"shape", {4}},
                       {"chunks", {2}},           {"dtype", "<f4"},  {"separator", 46}};
  Result<ArrayMetadata> opened = Status::Internal("not opened");
  ASSERT_NO_THROW(opened = formats_.Open(store, source));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(opened.status().path(), "/source/separator");
}

}  // namespace
}  // namespace batchd::pipeline
