// One suite for the array formats (pipeline/formats/array_format.h): each registered format reads a
// valid description into the same metadata, round-trips it through the execution state, and
// refuses what it cannot read correctly with an error naming the document and the member.
#include "pipeline/formats/array_format.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

class FormatTest : public ::testing::Test {
 protected:
  FormatTest() {
    char tmpl[] = "/tmp/batchd-format-XXXXXX";
    root_ = mkdtemp(tmpl);
    RegisterBuiltinCodecs(codecs_);
    RegisterBuiltinStores(stores_, {.file_roots = {root_}});
    RegisterBuiltinFormats(formats_, codecs_);
  }
  ~FormatTest() override { std::filesystem::remove_all(root_); }

  // Writes `doc` as `name` in array directory `array` and opens that array.
  Result<ArrayMetadata> OpenWith(const std::string& array, const std::string& name,
                                 const nlohmann::json& doc,
                                 const nlohmann::json& source = nlohmann::json::object()) {
    std::filesystem::create_directories(root_ / array);
    if (!name.empty()) std::ofstream(root_ / array / name) << doc.dump();
    return Open(array, source);
  }

  Result<ArrayMetadata> Open(const std::string& array, const nlohmann::json& source) {
    Result<std::shared_ptr<ChunkStore>> store = stores_.Open("file://" + (root_ / array).string());
    if (!store.ok()) return store.status();
    return formats_.Open(**store, source);
  }

  static nlohmann::json V2() {
    return nlohmann::json::parse(R"({"zarr_format": 2, "shape": [100, 50], "chunks": [16, 16],
      "dtype": "<f4", "compressor": {"id": "zstd", "level": 3}, "fill_value": "NaN",
      "order": "C", "filters": null, "dimension_separator": "/"})");
  }
  static nlohmann::json V3() {
    return nlohmann::json::parse(R"({"zarr_format": 3, "node_type": "array", "shape": [100, 50],
      "data_type": "float32", "chunk_grid": {"name": "regular", "configuration":
      {"chunk_shape": [16, 16]}}, "chunk_key_encoding": {"name": "default", "configuration":
      {"separator": "/"}}, "fill_value": "NaN", "codecs": [{"name": "bytes", "configuration":
      {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 3, "checksum": false}}],
      "attributes": {}})");
  }
  static nlohmann::json Raw() {
    return nlohmann::json::parse(R"({"url": "x", "format": "raw", "shape": [100, 50],
      "chunks": [16, 16], "dtype": "<f4", "codec": {"id": "zstd", "level": 3},
      "separator": "/", "fill_value": "NaN"})");
  }

  // Expects a kInvalidArgument whose message (or path) contains every one of `words`.
  static void ExpectRefused(const Result<ArrayMetadata>& r, std::vector<std::string> words) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    for (const std::string& w : words) {
      EXPECT_NE(r.status().ToString().find(w), std::string::npos)
          << "\"" << w << "\" not in: " << r.status().ToString();
    }
  }

  std::filesystem::path root_;
  CodecRegistry codecs_;
  StoreRegistry stores_;
  FormatRegistry formats_;
};

TEST_F(FormatTest, EveryFormatDescribesTheSameArray) {
  Result<ArrayMetadata> v2 = OpenWith("v2", ".zarray", V2());
  Result<ArrayMetadata> v3 = OpenWith("v3", "zarr.json", V3());
  Result<ArrayMetadata> raw = OpenWith("raw", "", nullptr, Raw());
  for (const Result<ArrayMetadata>* m : {&v2, &v3, &raw}) {
    ASSERT_TRUE(m->ok()) << m->status().ToString();
    EXPECT_EQ((*m)->shape, (std::vector<int64_t>{100, 50}));
    EXPECT_EQ((*m)->chunk_shape, (std::vector<int64_t>{16, 16}));
    EXPECT_EQ((*m)->dtype.ToNumpy(), "<f4");
    EXPECT_EQ((*m)->codec["id"], "zstd");
    EXPECT_EQ((*m)->fill_value, "NaN");
    Result<ArrayMetadata> back = ArrayMetadata::FromJson((*m)->ToJson());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->ToJson(), (*m)->ToJson()) << "the execution state round trip";
  }
  const std::vector<int64_t> c = {3, 2};
  EXPECT_EQ(v2->keys.Key(c), "3/2");
  EXPECT_EQ(v3->keys.Key(c), "c/3/2");
  EXPECT_EQ(raw->keys.Key(c), "3/2");
  EXPECT_EQ(v2->format, "zarr2");
  EXPECT_EQ(v3->format, "zarr3");
}

TEST_F(FormatTest, AutoDetectionAndExplicitFormats) {
  ASSERT_TRUE(OpenWith("a", ".zarray", V2()).ok());
  EXPECT_EQ(Open("a", {{"format", "zarr2"}})->format, "zarr2");
  ASSERT_TRUE(OpenWith("b", "zarr.json", V3()).ok());
  EXPECT_EQ(Open("b", {{"format", "auto"}})->format, "zarr3");
  ExpectRefused(Open("a", {{"format", "hdf5"}}), {"hdf5", "zarr2", "/source/format"});
  ExpectRefused(Open("empty", nlohmann::json::object()), {"neither .zarray", "raw"});
  Result<ArrayMetadata> missing = Open("a", {{"format", "zarr3"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(FormatTest, ZarrV2RefusesWhatItCannotReadByName) {
  struct Case {
    const char* member;
    nlohmann::json value;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {"order", "K", {".zarray", "\"order\"", "K", "\"C\" or \"F\""}},
      {"filters",
       nlohmann::json::parse(R"([{"id": "quantize", "digits": 3, "dtype": "<f4"}])"),
       {".zarray", "\"filters\"", "unknown filter \"quantize\"", "delta"}},
      {"filters",
       nlohmann::json::parse(R"([{"id": "delta"}])"),
       {".zarray", "\"filters\"", "delta: \"dtype\" is missing"}},
      {"filters",
       nlohmann::json::parse(R"([{"id": "delta", "dtype": "<f4", "astype": "<i4"}])"),
       {".zarray", "\"filters\"", "delta: \"astype\"", "mixes integers and floats"}},
      {"filters",
       nlohmann::json::parse(R"([{"id": "fixedscaleoffset", "scale": 10, "dtype": "<f4"}])"),
       {".zarray", "\"filters\"", "fixedscaleoffset: \"offset\" is missing"}},
      {"filters",
       nlohmann::json::parse(R"([{"id": "delta", "dtype": "<f8"}])"),
       {".zarray", "delta: \"dtype\" <f8 has 8-byte elements", "4-byte elements (<f4)"}},
      {"filters", {{"id", "delta"}}, {".zarray", "\"filters\" must be null or a list"}},
      {"compressor", {{"id", "crc32c"}}, {".zarray", "crc32c", "zarr v3"}},
      {"dtype", "<c8", {"dtype", "<c8"}},
      {"dtype", nlohmann::json::parse(R"([["a", "<f4"]])"), {"structured"}},
      {"compressor", {{"id", "lzma"}, {"preset", 1}}, {"compressor", "lzma"}},
      {"compressor", {{"id", "blosc"}, {"cname", "nope"}}, {"compressor", "nope"}},
      {"shape", "100,50", {"\"shape\""}},
      {"chunks", nlohmann::json::parse("[16]"), {"dimensions"}},
      {"chunks", nlohmann::json::parse("[16, 0]"), {"chunk dimension 1"}},
      {"dimension_separator", "-", {"dimension_separator"}},
      {"zarr_format", 3, {"zarr_format"}},
      {"fill_value", "lots", {"fill_value"}},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.member) + " = " + c.value.dump());
    nlohmann::json doc = V2();
    doc[c.member] = c.value;
    ExpectRefused(OpenWith("v2bad" + std::to_string(n++), ".zarray", doc), c.words);
  }
  std::filesystem::create_directories(root_ / "notjson");
  std::ofstream(root_ / "notjson" / ".zarray") << "{not json";
  ExpectRefused(Open("notjson", nlohmann::json::object()), {".zarray", "not valid JSON"});
}

TEST_F(FormatTest, ZarrV2FiltersAndFOrderBecomeTheChainsFilters) {
  nlohmann::json doc = V2();
  doc["order"] = "F";
  doc["filters"] = nlohmann::json::parse(
      R"([{"id": "fixedscaleoffset", "offset": 280, "scale": 100, "dtype": "<f4",
           "astype": "<i2"}, {"id": "delta", "dtype": "<i2"}])");
  ASSERT_OK_AND_ASSIGN(ArrayMetadata m, OpenWith("v2f", ".zarray", doc));
  // F order first (it is how the array's elements are laid out before any filter sees them),
  // then the filters in the document's order.
  EXPECT_EQ(m.filters, nlohmann::json::parse(
                           R"([{"id": "transpose", "order": [1, 0]}, {"id": "fixedscaleoffset",
                               "offset": 280, "scale": 100, "dtype": "<f4", "astype": "<i2"},
                               {"id": "delta", "dtype": "<i2"}])"));
  ASSERT_OK_AND_ASSIGN(ArrayMetadata back, ArrayMetadata::FromJson(m.ToJson()));
  EXPECT_EQ(back.filters, m.filters) << "the execution state round trip";
  // C order and no filters: nothing in the chain, and nothing new in the execution state.
  ASSERT_OK_AND_ASSIGN(ArrayMetadata plain, OpenWith("v2c", ".zarray", V2()));
  EXPECT_TRUE(plain.filters.empty());
  EXPECT_FALSE(plain.ToJson().contains("filters"));
  // A 1-d F-order array is laid out as a C-order one.
  doc = V2();
  doc["order"] = "F";
  doc["shape"] = {100};
  doc["chunks"] = {16};
  ASSERT_OK_AND_ASSIGN(ArrayMetadata one_d, OpenWith("v2f1", ".zarray", doc));
  EXPECT_TRUE(one_d.filters.empty());
}

TEST_F(FormatTest, ZarrV3TransposeAndCrc32cJoinTheChain) {
  nlohmann::json doc = V3();
  doc["codecs"].insert(
      doc["codecs"].begin(),
      nlohmann::json{{"name", "transpose"}, {"configuration", {{"order", {1, 0}}}}});
  doc["codecs"].push_back({{"name", "crc32c"}});
  ASSERT_OK_AND_ASSIGN(ArrayMetadata m, OpenWith("v3t", "zarr.json", doc));
  EXPECT_EQ(m.filters, nlohmann::json::parse(R"([{"id": "transpose", "order": [1, 0]}])"));
  EXPECT_EQ(m.outer_codecs, nlohmann::json::parse(R"([{"id": "crc32c"}])"));
  EXPECT_EQ(m.codec["id"], "zstd");
  ASSERT_OK_AND_ASSIGN(ArrayMetadata back, ArrayMetadata::FromJson(m.ToJson()));
  EXPECT_EQ(back.outer_codecs, m.outer_codecs);
  // bytes then crc32c, no compressor.
  doc = V3();
  doc["codecs"][1] = {{"name", "crc32c"}};
  ASSERT_OK_AND_ASSIGN(ArrayMetadata plain, OpenWith("v3c", "zarr.json", doc));
  EXPECT_EQ(plain.codec["id"], "raw");
  EXPECT_EQ(plain.outer_codecs.size(), 1u);
}

TEST_F(FormatTest, ZarrV3RefusesWhatItCannotReadByName) {
  auto edit = [](const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json doc = V3();
    f(doc);
    return doc;
  };
  struct Case {
    nlohmann::json doc;
    std::vector<std::string> words;
  };
  const std::vector<Case> cases = {
      {edit([](auto& d) { d["node_type"] = "group"; }), {"group"}},
      {edit([](auto& d) {
         d["codecs"][0] = {{"name", "sharding_indexed"}};
       }),
       {"sharding"}},
      {edit([](auto& d) {
         d["codecs"].insert(d["codecs"].begin(), nlohmann::json{{"name", "transpose"}});
       }),
       {"\"codecs\"", "transpose: \"order\""}},
      {edit([](auto& d) {
         d["codecs"].insert(
             d["codecs"].begin(),
             nlohmann::json{{"name", "transpose"}, {"configuration", {{"order", {0, 1, 2}}}}});
       }),
       {"transpose: \"order\"", "the chunk has 2 dimensions"}},
      {edit([](auto& d) {
         d["codecs"].push_back({{"name", "crc32c"}});
         d["codecs"].push_back({{"name", "zstd"}});
       }),
       {"\"zstd\" is unsupported here"}},
      {edit([](auto& d) {
         d["codecs"].push_back({{"name", "crc32c"}, {"configuration", {{"x", 1}}}});
       }),
       {"crc32c", "has members"}},
      {edit([](auto& d) {
         d["codecs"][1] = {{"name", "lzma"}};
       }),
       {"lzma"}},
      {edit([](auto& d) { d["chunk_grid"]["name"] = "rectilinear"; }), {"chunk_grid"}},
      {edit([](auto& d) { d["chunk_key_encoding"]["name"] = "other"; }), {"chunk_key_encoding"}},
      {edit([](auto& d) { d["data_type"] = "complex64"; }), {"complex64"}},
      {edit([](auto& d) {
         d["storage_transformers"] = {{{"name", "x"}}};
       }),
       {"storage_transformers"}},
      {edit([](auto& d) { d["codecs"][0]["configuration"]["endian"] = "middle"; }), {"endian"}},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.doc.dump());
    ExpectRefused(OpenWith("v3bad" + std::to_string(n++), "zarr.json", c.doc), c.words);
  }
}

// A sharded v3 array: shards of 32x32, inner chunks of 8x16 with their own codecs.
nlohmann::json ShardedV3() {
  return nlohmann::json::parse(R"({"zarr_format": 3, "node_type": "array", "shape": [100, 50],
    "data_type": "uint16", "chunk_grid": {"name": "regular", "configuration":
    {"chunk_shape": [32, 32]}}, "chunk_key_encoding": {"name": "default"}, "fill_value": 7,
    "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [8, 16],
      "codecs": [{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "zstd",
      "configuration": {"level": 1}}, {"name": "crc32c"}],
      "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
      {"name": "crc32c"}], "index_location": "start"}}]})");
}

TEST_F(FormatTest, ZarrV3ShardingMakesTheInnerChunkThePipelinesChunk) {
  ASSERT_OK_AND_ASSIGN(ArrayMetadata m, OpenWith("v3s", "zarr.json", ShardedV3()));
  EXPECT_EQ(m.chunk_shape, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(m.GridShape(), (std::vector<int64_t>{13, 4})) << "the grid of inner chunks";
  ASSERT_TRUE(m.shards.has_value());
  EXPECT_EQ(m.shards->chunks_per_shard, (std::vector<int64_t>{4, 2}));
  EXPECT_TRUE(m.shards->index_at_start);
  EXPECT_TRUE(m.shards->index_crc32c);
  EXPECT_EQ(m.shards->IndexBytes(), 8u * 16 + 4);
  EXPECT_EQ(m.codec["id"], "zstd");
  EXPECT_TRUE(m.dtype.big_endian) << "the inner chunks' bytes codec";
  EXPECT_EQ(m.outer_codecs.size(), 1u);
  ASSERT_OK_AND_ASSIGN(ArrayMetadata back, ArrayMetadata::FromJson(m.ToJson()));
  EXPECT_EQ(back.shards, m.shards) << "the execution state round trip";
  // Defaults: the index at the end, and an unsharded array has no layout.
  nlohmann::json doc = ShardedV3();
  doc["codecs"][0]["configuration"].erase("index_location");
  doc["codecs"][0]["configuration"]["index_codecs"].erase(1);
  ASSERT_OK_AND_ASSIGN(ArrayMetadata end, OpenWith("v3se", "zarr.json", doc));
  EXPECT_FALSE(end.shards->index_at_start);
  EXPECT_FALSE(end.shards->index_crc32c);
  ASSERT_OK_AND_ASSIGN(ArrayMetadata plain, OpenWith("v3p", "zarr.json", V3()));
  EXPECT_FALSE(plain.shards.has_value());
  EXPECT_FALSE(plain.ToJson().contains("shards"));
}

TEST_F(FormatTest, ZarrV3RefusesHostileShardingByName) {
  auto edit = [](const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json doc = ShardedV3();
    f(doc["codecs"][0]["configuration"]);
    return doc;
  };
  struct Case {
    nlohmann::json doc;
    std::vector<std::string> words;
  };
  nlohmann::json after = ShardedV3();
  after["codecs"].push_back({{"name", "crc32c"}});
  const std::vector<Case> cases = {
      {edit([](auto& c) {
         c["chunk_shape"] = {7, 16};
       }),
       {"must divide the shard shape"}},
      {edit([](auto& c) { c["chunk_shape"] = {8}; }), {"rank"}},
      {edit([](auto& c) {
         c["chunk_shape"] = {0, 16};
       }),
       {"must divide"}},
      {edit([](auto& c) { c["chunk_shape"] = "8,16"; }), {"chunk_shape"}},
      {edit([](auto& c) { c["index_location"] = "middle"; }), {"index_location", "middle"}},
      {edit([](auto& c) {
         c["index_codecs"] = {{{"name", "crc32c"}}};
       }),
       {"index_codecs"}},
      {edit([](auto& c) { c["index_codecs"][0]["configuration"]["endian"] = "big"; }),
       {"index_codecs"}},
      {edit([](auto& c) {
         c["index_codecs"][1] = {{"name", "zstd"}};
       }),
       {"index_codecs"}},
      {edit([](auto& c) { c.erase("index_codecs"); }), {"index_codecs"}},
      {edit([](auto& c) { c["codecs"] = nlohmann::json::array(); }), {"codecs"}},
      {edit([](auto& c) {
         c["codecs"][1] = {{"name", "lzma"}};
       }),
       {"lzma"}},
      {edit([](auto& c) {
         c["codecs"] = {{{"name", "sharding_indexed"}, {"configuration", c}}};
       }),
       {"nested sharding"}},
      {after, {"must be the only codec"}},
      {[] {
         nlohmann::json d = ShardedV3();
         d["chunk_grid"]["configuration"]["chunk_shape"] = {1 << 20, 1 << 20};
         d["codecs"][0]["configuration"]["chunk_shape"] = {1, 1};
         return d;
       }(),
       {"inner chunks"}},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.doc.dump());
    ExpectRefused(OpenWith("v3sbad" + std::to_string(n++), "zarr.json", c.doc), c.words);
  }
}

TEST(ChunkKeyTest, ParseChunkKeyTakesBackWhatKeyWrote) {
  const pipeline::ChunkKeyEncoding v3{.prefix = "c", .separator = '/'};
  const pipeline::ChunkKeyEncoding v2{.prefix = "", .separator = '.'};
  for (const auto& keys : {v3, v2}) {
    for (const std::vector<int64_t>& coords :
         std::vector<std::vector<int64_t>>{{}, {0}, {12, 0, 7}, {INT64_MAX, 3}}) {
      EXPECT_EQ(pipeline::ParseChunkKey(keys, keys.Key(coords), static_cast<int>(coords.size())),
                coords);
    }
  }
  for (std::string_view bad : {"c", "c/", "c/1/", "c/1/2/3", "c.1.2", "d/1/2", "c/-1/2", "c/1/x",
                               "c/99999999999999999999/1", "1/2"}) {
    EXPECT_FALSE(pipeline::ParseChunkKey(v3, bad, 2).has_value()) << bad;
  }
  EXPECT_FALSE(pipeline::ParseChunkKey(v2, "1.2", 1).has_value());
  EXPECT_FALSE(pipeline::ParseChunkKey(v2, "", 1).has_value());
}

TEST_F(FormatTest, ZarrV3BigEndianAndBloscAndTheV2KeyEncoding) {
  nlohmann::json doc = V3();
  doc["codecs"][0]["configuration"]["endian"] = "big";
  doc["codecs"][1] = {{"name", "blosc"},
                      {"configuration",
                       {{"cname", "lz4"},
                        {"clevel", 5},
                        {"shuffle", "bitshuffle"},
                        {"typesize", 4},
                        {"blocksize", 0}}}};
  doc["chunk_key_encoding"] = {{"name", "v2"}, {"configuration", {{"separator", "."}}}};
  Result<ArrayMetadata> m = OpenWith("v3be", "zarr.json", doc);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->dtype.big_endian);
  EXPECT_EQ(m->codec["id"], "blosc");
  EXPECT_EQ(m->codec["shuffle"], 2);
  EXPECT_EQ(m->keys.Key(std::vector<int64_t>{1, 2}), "1.2");
}

TEST_F(FormatTest, RawRefusesAnIncompleteSpecNamingTheMember) {
  for (const char* member : {"shape", "chunks", "dtype"}) {
    nlohmann::json source = Raw();
    source.erase(member);
    Result<ArrayMetadata> r = Open("raw", source);
    ASSERT_FALSE(r.ok()) << member;
    EXPECT_EQ(r.status().path(), std::string("/source/") + member);
  }
  nlohmann::json source = Raw();
  source["codec"] = {{"id", "snappy"}};
  EXPECT_EQ(Open("raw", source).status().path(), "/source/codec");
}

TEST_F(FormatTest, ZarrV2DocumentsWeWriteReadBackTheSame) {
  Result<ArrayMetadata> m = OpenWith("w", ".zarray", V2());
  ASSERT_TRUE(m.ok());
  std::filesystem::create_directories(root_ / "copy");
  std::ofstream(root_ / "copy" / ".zarray") << ZarrV2ArrayDocument(*m);
  Result<ArrayMetadata> back = Open("copy", nlohmann::json::object());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), m->ToJson());
}

}  // namespace
}  // namespace batchd::pipeline
