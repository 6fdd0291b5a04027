// Regression (region round-trip property of fuzz/zarr_v2_metadata_fuzzer): an array with a
// zero-length dimension has an empty chunk grid. Prepare stored its whole-grid region, but
// ChunkRegion::FromJson parsed it back as a client's region, where [0, 0] is refused, so the
// session failed at Run with a message about a region nobody gave, instead of completing with
// zero chunks.
#include <gtest/gtest.h>

#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_metadata.h"

namespace batchd::pipeline {
namespace {

TEST(IssueEmptyArrayRegionTest, WholeRegionOfAnEmptyArrayRoundTrips) {
  ArrayMetadata m;
  m.format = "zarr2";
  m.shape = {0, 5};
  m.chunk_shape = {4, 4};
  m.fill_value = 0;
  ASSERT_TRUE(m.Validate().ok());
  const ChunkRegion all = ChunkRegion::All(m);
  EXPECT_EQ(all.size(), 0);
  Result<ChunkRegion> stored = ChunkRegion::FromJson(all.ToJson(), m);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->size(), 0);
  EXPECT_EQ(stored->stop(), (std::vector<int64_t>{0, 2}));
}

TEST(IssueEmptyArrayRegionTest, StoredRegionsOutsideTheGridAreStillRefused) {
  ArrayMetadata m;
  m.format = "zarr2";
  m.shape = {8, 8};
  m.chunk_shape = {4, 4};
  m.fill_value = 0;
  for (const char* text :
       {R"({"start": [0, 0], "stop": [3, 2]})", R"({"start": [-1, 0], "stop": [1, 2]})",
        R"({"start": [1, 0], "stop": [0, 2]})", R"({"start": [0], "stop": [1]})"}) {
    EXPECT_FALSE(ChunkRegion::FromJson(nlohmann::json::parse(text), m).ok()) << text;
  }
  // A client still may not ask for an empty region.
  EXPECT_FALSE(ChunkRegion::Parse(nlohmann::json::parse("[[1, 1], [0, 2]]"), m, "/region").ok());
}

}  // namespace
}  // namespace batchd::pipeline
