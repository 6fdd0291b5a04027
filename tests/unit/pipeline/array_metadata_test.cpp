// Data types, array metadata (fill values, keys, round trip), chunk regions and the chunk
// cursor: the pieces the formats and the pipeline are built from.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "pipeline/engine/chunk_cursor.h"
#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_metadata.h"
#include "pipeline/formats/dtype.h"

namespace batchd::pipeline {
namespace {

TEST(DataTypeTest, ParsesEveryNumpySpellingWeSupport) {
  for (const char* text : {"<f4", ">f8", "<i2", ">i8", "|u1", "|i1", "<u4", ">u2"}) {
    Result<DataType> t = DataType::FromNumpy(text);
    ASSERT_TRUE(t.ok()) << text << ": " << t.status().ToString();
    EXPECT_EQ(t->ToNumpy(), text);
  }
  EXPECT_TRUE(DataType::FromNumpy(">f8")->big_endian);
  EXPECT_EQ(DataType::FromNumpy("<u1")->ToNumpy(), "|u1");  // one byte has no order
}

TEST(DataTypeTest, RefusesUnsupportedTypesByName) {
  for (const char* text : {"<c8", "|b1", "<M8[ns]", "<f2", "|S10", "<U4", "f4", "<i3", ""}) {
    Result<DataType> t = DataType::FromNumpy(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(std::string("\"") + text + "\""), std::string::npos)
        << t.status().message();
  }
}

TEST(DataTypeTest, ZarrV3Names) {
  EXPECT_EQ(DataType::FromZarrV3("float32")->size, 4);
  EXPECT_EQ(DataType::FromZarrV3("uint64")->kind, DataType::Kind::kUint);
  EXPECT_EQ(DataType::FromZarrV3("int8")->ToZarrV3(), "int8");
  EXPECT_FALSE(DataType::FromZarrV3("float16").ok());
  EXPECT_FALSE(DataType::FromZarrV3("bool").ok());
  EXPECT_FALSE(DataType::FromZarrV3("complex64").ok());
}

TEST(DataTypeTest, ByteSwap) {
  uint32_t v[2] = {0x01020304u, 0xa0b0c0d0u};
  ByteSwapInPlace(MutableByteView(reinterpret_cast<uint8_t*>(v), 8), 4);
  EXPECT_EQ(v[0], 0x04030201u);
  EXPECT_EQ(v[1], 0xd0c0b0a0u);
  EXPECT_EQ(DataType::FromNumpy(">f4")->NeedsSwap(), std::endian::native == std::endian::little);
}

ArrayMetadata Sample() {
  ArrayMetadata m;
  m.format = "zarr2";
  m.shape = {10, 7};
  m.chunk_shape = {4, 3};
  m.dtype = *DataType::FromNumpy("<f4");
  m.fill_value = "NaN";
  m.codec = {{"id", "zstd"}, {"level", 3}};
  m.keys = {.prefix = "", .separator = '.'};
  return m;
}

TEST(ArrayMetadataTest, GridAndKeys) {
  ArrayMetadata m = Sample();
  EXPECT_EQ(m.GridShape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(m.ChunkBytes(), 48u);
  const std::vector<int64_t> coords = {2, 1};
  EXPECT_EQ(m.keys.Key(coords), "2.1");
  EXPECT_EQ((ChunkKeyEncoding{"", '/'}.Key(coords)), "2/1");
  EXPECT_EQ((ChunkKeyEncoding{"c", '/'}.Key(coords)), "c/2/1");
  EXPECT_EQ((ChunkKeyEncoding{"", '.'}.Key({})), "0");
  EXPECT_EQ((ChunkKeyEncoding{"c", '/'}.Key({})), "c");
}

TEST(ArrayMetadataTest, JsonRoundTrip) {
  ArrayMetadata m = Sample();
  Result<ArrayMetadata> back = ArrayMetadata::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), m.ToJson());
  EXPECT_FALSE(ArrayMetadata::FromJson({{"format", "zarr2"}}).ok());
  EXPECT_FALSE(ArrayMetadata::FromJson(nlohmann::json::array()).ok());
}

TEST(ArrayMetadataTest, FillValues) {
  ArrayMetadata m = Sample();
  float f;
  std::memcpy(&f, m.FillElement()->data(), 4);
  EXPECT_TRUE(std::isnan(f));
  m.fill_value = "-Infinity";
  std::memcpy(&f, m.FillElement()->data(), 4);
  EXPECT_EQ(f, -std::numeric_limits<float>::infinity());
  m.fill_value = "0x3f800000";  // zarr v3 bit pattern of 1.0f
  std::memcpy(&f, m.FillElement()->data(), 4);
  EXPECT_EQ(f, 1.0f);
  m.fill_value = 2.5;
  std::memcpy(&f, m.FillElement()->data(), 4);
  EXPECT_EQ(f, 2.5f);
  m.fill_value = nullptr;
  std::memcpy(&f, m.FillElement()->data(), 4);
  EXPECT_EQ(f, 0.0f);
  m.fill_value = "nope";
  EXPECT_FALSE(m.FillElement().ok());

  m.dtype = *DataType::FromNumpy("|u1");
  m.fill_value = 255;
  EXPECT_EQ(m.FillElement()->at(0), 255);
  for (const nlohmann::json& bad :
       {nlohmann::json(256), nlohmann::json(-1), nlohmann::json(1.5), nlohmann::json("NaN")}) {
    m.fill_value = bad;
    Result<std::array<uint8_t, 8>> r = m.FillElement();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("|u1"), std::string::npos) << r.status().message();
  }
  m.dtype = *DataType::FromNumpy("<i2");
  m.fill_value = -32768;
  int16_t i16;
  std::memcpy(&i16, m.FillElement()->data(), 2);
  EXPECT_EQ(i16, -32768);
  m.fill_value = 40000;
  EXPECT_FALSE(m.FillElement().ok());
}

TEST(ArrayMetadataTest, ValidateRefusesBadShapes) {
  ArrayMetadata m = Sample();
  m.chunk_shape = {4};
  EXPECT_FALSE(m.Validate().ok());
  m.chunk_shape = {4, 0};
  EXPECT_FALSE(m.Validate().ok());
  m.chunk_shape = {1 << 20, 1 << 20};
  EXPECT_NE(m.Validate().message().find("2 GiB"), std::string::npos);
  m = Sample();
  m.shape = {-1, 7};
  EXPECT_FALSE(m.Validate().ok());
}

TEST(ChunkRegionTest, AllAndCoordinatesInCOrder) {
  ArrayMetadata m = Sample();  // grid 3 x 3
  ChunkRegion all = ChunkRegion::All(m);
  EXPECT_EQ(all.size(), 9);
  std::vector<int64_t> c(2);
  all.CoordsOf(0, c);
  EXPECT_EQ(c, (std::vector<int64_t>{0, 0}));
  all.CoordsOf(5, c);
  EXPECT_EQ(c, (std::vector<int64_t>{1, 2}));

  Result<ChunkRegion> box =
      ChunkRegion::Parse(nlohmann::json::parse("[[1, 3], [2, 3]]"), m, "/region");
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(box->size(), 2);
  box->CoordsOf(1, c);
  EXPECT_EQ(c, (std::vector<int64_t>{2, 2}));
  Result<ChunkRegion> back = ChunkRegion::FromJson(box->ToJson(), m);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->start(), box->start());
  EXPECT_EQ(back->stop(), box->stop());
}

TEST(ChunkRegionTest, RefusesBadRegionsNamingThePart) {
  ArrayMetadata m = Sample();
  struct Case {
    const char* region;
    const char* path;
  };
  for (const Case& c :
       {Case{"[[0, 1]]", "/region"}, Case{"[[0, 1], [2, 2]]", "/region/1"},
        Case{"[[0, 4], [0, 1]]", "/region/0"}, Case{"[[-1, 1], [0, 1]]", "/region/0"},
        Case{"[[0, 1], \"x\"]", "/region/1"}, Case{"{}", "/region"},
        Case{"[[0, 1], [0.5, 1]]", "/region/1"}}) {
    Result<ChunkRegion> r = ChunkRegion::Parse(nlohmann::json::parse(c.region), m, "/region");
    ASSERT_FALSE(r.ok()) << c.region;
    EXPECT_EQ(r.status().path(), c.path) << c.region << ": " << r.status().ToString();
  }
}

TEST(ChunkRegionTest, EdgeChunksHaveAPartialExtent) {
  ArrayMetadata m = Sample();  // shape 10 x 7, chunks 4 x 3
  std::vector<int64_t> extent(2);
  ValidExtent(m, std::vector<int64_t>{0, 0}, extent);
  EXPECT_EQ(extent, (std::vector<int64_t>{4, 3}));
  ValidExtent(m, std::vector<int64_t>{2, 2}, extent);
  EXPECT_EQ(extent, (std::vector<int64_t>{2, 1}));
}

TEST(ChunkCursorTest, RunsRoundTrip) {
  ChunkCursor c(200);
  for (int64_t i = 0; i < 130; ++i) c.MarkDone(i);
  c.MarkDone(150);
  c.MarkDone(199);
  c.MarkDone(150);  // twice changes nothing
  EXPECT_EQ(c.done(), 132);
  const nlohmann::json runs = c.ToJson();
  EXPECT_EQ(runs, nlohmann::json::parse("[[0, 130], [150, 151], [199, 200]]"));
  Result<ChunkCursor> back = ChunkCursor::FromJson(runs, 200);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->done(), 132);
  EXPECT_TRUE(back->IsDone(129));
  EXPECT_FALSE(back->IsDone(130));
  EXPECT_EQ(ChunkCursor(0).ToJson(), nlohmann::json::array());
}

TEST(ChunkCursorTest, RefusesRunsOutsideTheRegion) {
  EXPECT_FALSE(ChunkCursor::FromJson(nlohmann::json::parse("[[0, 11]]"), 10).ok());
  EXPECT_FALSE(ChunkCursor::FromJson(nlohmann::json::parse("[[5, 6], [2, 3]]"), 10).ok());
  EXPECT_FALSE(ChunkCursor::FromJson(nlohmann::json::parse("[[3, 3]]"), 10).ok());
  EXPECT_FALSE(ChunkCursor::FromJson(nlohmann::json::parse("{}"), 10).ok());
}

}  // namespace
}  // namespace batchd::pipeline
