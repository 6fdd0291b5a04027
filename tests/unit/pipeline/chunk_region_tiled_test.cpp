// ChunkRegion::Tiled (transcode into a sharded sink visits the region shard by shard): the
// numbering covers every chunk of the box once, each tile's chunks are consecutive numbers in
// C order inside the tile, tiles come in C order (the clipped ones at the box's far edges
// included), and the tile survives the execution state's round trip.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_metadata.h"

namespace batchd::pipeline {
namespace {

ArrayMetadata Grid(std::vector<int64_t> grid) {
  ArrayMetadata m;
  m.format = "zarr2";
  m.shape = grid;
  m.chunk_shape = std::vector<int64_t>(grid.size(), 1);
  m.fill_value = 0;
  return m;
}

// The order a tiled visit must have, by brute force: sort the box's chunks by (tile
// coordinates, coordinates), both lexicographic (C order).
std::vector<std::vector<int64_t>> Expected(const std::vector<int64_t>& start,
                                           const std::vector<int64_t>& stop,
                                           const std::vector<int64_t>& tile) {
  std::map<std::pair<std::vector<int64_t>, std::vector<int64_t>>, int> ordered;
  std::vector<int64_t> c = start;
  for (;;) {
    std::vector<int64_t> t(c.size());
    for (size_t d = 0; d < c.size(); ++d) t[d] = (c[d] - start[d]) / tile[d];
    ordered[{t, c}] = 0;
    size_t d = c.size();
    while (d > 0 && ++c[d - 1] == stop[d - 1]) {
      c[d - 1] = start[d - 1];
      --d;
    }
    if (d == 0) break;
  }
  std::vector<std::vector<int64_t>> out;
  for (const auto& [key, unused] : ordered) out.push_back(key.second);
  return out;
}

TEST(ChunkRegionTiledTest, VisitsTileByTileInCOrder) {
  struct Case {
    std::vector<int64_t> grid;
    std::string region;
    std::vector<int64_t> tile;
  };
  const std::vector<Case> cases = {
      {{5, 4}, "null", {2, 2}},                            // partial tiles along both dimensions
      {{11, 6}, "null", {3, 2}},                           // a partial last row of tiles
      {{7, 9, 5}, "[[2, 7], [3, 9], [0, 5]]", {2, 3, 4}},  // a box, rank 3
      {{6}, "null", {4}},                                  // rank 1
      {{4, 4}, "null", {1, 1}},                            // tiles of one chunk: plain C order
      {{3, 5}, "null", {8, 8}},                            // one tile larger than the box
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(nlohmann::json(c.grid).dump() + " " + c.region);
    const ArrayMetadata m = Grid(c.grid);
    Result<ChunkRegion> box = ChunkRegion::Parse(nlohmann::json::parse(c.region), m, "/region");
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    const ChunkRegion tiled = box->Tiled(c.tile);
    const std::vector<std::vector<int64_t>> expected = Expected(box->start(), box->stop(), c.tile);
    ASSERT_EQ(tiled.size(), static_cast<int64_t>(expected.size()));
    std::vector<int64_t> coords(c.grid.size());
    for (int64_t i = 0; i < tiled.size(); ++i) {
      tiled.CoordsOf(i, coords);
      EXPECT_EQ(coords, expected[static_cast<size_t>(i)]) << "chunk number " << i;
    }
    Result<ChunkRegion> back = ChunkRegion::FromJson(tiled.ToJson(), m);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->tile(), c.tile);
    back->CoordsOf(tiled.size() - 1, coords);
    EXPECT_EQ(coords, expected.back());
  }
}

TEST(ChunkRegionTiledTest, UntiledStateHasNoTileAndBadTilesAreRefused) {
  const ArrayMetadata m = Grid({4, 4});
  const ChunkRegion all = ChunkRegion::All(m);
  EXPECT_FALSE(all.ToJson().contains("tile")) << "states stored before tiles read the same";
  for (const char* bad : {R"({"start": [0, 0], "stop": [4, 4], "tile": [2]})",
                          R"({"start": [0, 0], "stop": [4, 4], "tile": [2, 0]})",
                          R"({"start": [0, 0], "stop": [4, 4], "tile": "2,2"})"}) {
    EXPECT_FALSE(ChunkRegion::FromJson(nlohmann::json::parse(bad), m).ok()) << bad;
  }
}

}  // namespace
}  // namespace batchd::pipeline
