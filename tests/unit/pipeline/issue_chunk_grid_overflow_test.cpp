// Regression (chunk-grid properties of fuzz/zarr_v2_metadata_fuzzer, UBSan): the grid of an
// array with a dimension near 2^63 was computed as (shape + chunk - 1) / chunk, a signed
// overflow; and an array whose grid holds 2^63 chunks or more was accepted, so ChunkRegion's
// chunk count (and every cursor numbering chunks) overflowed.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_metadata.h"

namespace batchd::pipeline {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

ArrayMetadata Array(std::vector<int64_t> shape, std::vector<int64_t> chunks) {
  ArrayMetadata m;
  m.format = "zarr2";
  m.shape = std::move(shape);
  m.chunk_shape = std::move(chunks);
  m.fill_value = 0;
  return m;
}

TEST(IssueChunkGridOverflowTest, GridOfADimensionNearTheLimit) {
  const ArrayMetadata m = Array({kMax}, {2});
  EXPECT_TRUE(m.Validate().ok()) << m.Validate().ToString();
  EXPECT_EQ(m.GridShape(), std::vector<int64_t>{kMax / 2 + 1});
  EXPECT_EQ(ChunkRegion::All(m).size(), kMax / 2 + 1);
  EXPECT_EQ(Array({kMax}, {kMax}).GridShape(), std::vector<int64_t>{1});
  EXPECT_EQ(Array({kMax - 1}, {kMax}).GridShape(), std::vector<int64_t>{1});
}

TEST(IssueChunkGridOverflowTest, RefusesAGridOfTwoToTheSixtyThreeChunks) {
  const Status s = Array({int64_t{1} << 62, int64_t{1} << 62}, {1, 1}).Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("chunks"), std::string::npos) << s.message();
  // The largest grid that still numbers: 2^62 x 1 chunk.
  EXPECT_TRUE(Array({int64_t{1} << 62, 1}, {1, 1}).Validate().ok());
}

}  // namespace
}  // namespace batchd::pipeline
