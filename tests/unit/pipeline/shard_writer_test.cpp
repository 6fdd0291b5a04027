// Transcode's shard writer (pipeline/ops/shard_writer.h) over an in-memory sink: a shard is
// written once all its inner chunks in the region are in, with the index at the end (missing
// inner chunks and those past an edge shard's grid as (2^64-1, 2^64-1)) and its CRC-32C; a
// chunk's `done` waits for its shard; a checkpoint taken between one shard's folds resumes
// without waiting for chunks that will never come again; OnStop lets held chunks go.
#include <gtest/gtest.h>

#include <cstring>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/ops/digest.h"
#include "pipeline/ops/shard_writer.h"
#include "tests/unit/pipeline/memory_chunk_store.h"

namespace batchd::pipeline {
namespace {

constexpr uint64_t kMissing = UINT64_MAX;

uint64_t Le64(const Bytes& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}

// uint8, shape 6 x 4 in chunks of 2 x 2 (a 3 x 2 grid), shards of 2 x 2 chunks: shard c/0/0
// is full, shard c/1/0 holds grid row 2 only.
ArrayMetadata Sink() {
  ArrayMetadata m;
  m.format = "zarr3";
  m.shape = {6, 4};
  m.chunk_shape = {2, 2};
  m.dtype = {.kind = DataType::Kind::kUint, .size = 1, .big_endian = false};
  m.fill_value = 0;
  m.keys = {.prefix = "c", .separator = '/'};
  m.shards = ShardLayout{.chunks_per_shard = {2, 2}, .index_at_start = false, .index_crc32c = true};
  return m;
}

struct Outcome {
  bool called = false;
  bool ok = false;
  std::unique_ptr<ChunkContribution> contribution;
};

class ShardWriterTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChunkConsumer> Make() {
    Result<std::unique_ptr<const Codec>> raw = CreateRawCodec({{"id", "raw"}}, {.element_size = 1});
    EXPECT_TRUE(raw.ok());
    return MakeShardWriter(store_, std::shared_ptr<const Codec>(std::move(*raw)), Sink(),
                           ChunkRegion::All(Sink()).Tiled({2, 2}), nullptr);
  }

  // Hands chunk (r, c) to `writer`, its 4 bytes all `value` (missing: the fill value).
  void Feed(ChunkConsumer& writer, int64_t r, int64_t c, uint8_t value, bool missing,
            Outcome& out) {
    std::vector<int64_t> coords = {r, c}, extent = {2, 2};
    Bytes data(4, missing ? 0 : value);
    const std::string key = std::to_string(r) + "." + std::to_string(c);
    DecodedChunk chunk{.number = 0,
                       .coords = coords,
                       .extent = extent,
                       .key = &key,
                       .data = data,
                       .missing = missing};
    writer.Process(chunk, [&out](Result<std::unique_ptr<ChunkContribution>> r) {
      out.called = true;
      out.ok = r.ok();
      if (r.ok()) out.contribution = std::move(*r);
    });
  }

  std::optional<Bytes> Stored(const std::string& key) {
    Result<std::optional<Bytes>> got = ReadKey(*store_, key);
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : std::nullopt;
  }

  std::shared_ptr<testing::MemoryChunkStore> store_ =
      std::make_shared<testing::MemoryChunkStore>("memory://sink");
};

TEST_F(ShardWriterTest, WritesEachShardWholeWithItsIndexAtTheEnd) {
  std::unique_ptr<ChunkConsumer> writer = Make();
  Outcome o[6];
  Feed(*writer, 0, 0, 1, false, o[0]);
  Feed(*writer, 0, 1, 2, false, o[1]);
  Feed(*writer, 1, 0, 3, false, o[2]);
  EXPECT_FALSE(o[0].called || o[1].called || o[2].called) << "held until the shard is written";
  EXPECT_FALSE(Stored("c/0/0").has_value());
  Feed(*writer, 1, 1, 0, true, o[3]);  // a missing source chunk
  Feed(*writer, 2, 1, 5, false, o[4]);
  Feed(*writer, 2, 0, 0, true, o[5]);  // the edge shard's chunks, out of order
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(o[i].called && o[i].ok && o[i].contribution) << i;
    writer->Fold(i, *o[i].contribution);
  }

  std::optional<Bytes> full = Stored("c/0/0");
  ASSERT_TRUE(full.has_value());
  ASSERT_EQ(full->size(), 12u + 4 * 16 + 4);  // three chunks of 4 bytes, the index, its CRC
  const size_t index = 12;
  EXPECT_EQ(Le64(*full, index + 0), 0u);  // inner chunk 0: (0, 0), in C order
  EXPECT_EQ(Le64(*full, index + 8), 4u);
  EXPECT_EQ(Le64(*full, index + 16), 4u);        // inner 1: (0, 1)
  EXPECT_EQ(Le64(*full, index + 32), 8u);        // inner 2: (1, 0)
  EXPECT_EQ(Le64(*full, index + 48), kMissing);  // inner 3: missing
  EXPECT_EQ(Le64(*full, index + 56), kMissing);
  EXPECT_EQ((*full)[0], 1);
  EXPECT_EQ((*full)[4], 2);
  EXPECT_EQ((*full)[8], 3);
  uint32_t crc = 0;
  for (int i = 3; i >= 0; --i) crc = (crc << 8) | (*full)[index + 64 + i];
  EXPECT_EQ(crc, Crc32c(ByteView(full->data() + index, 64)));

  std::optional<Bytes> edge = Stored("c/1/0");
  ASSERT_TRUE(edge.has_value());
  ASSERT_EQ(edge->size(), 4u + 4 * 16 + 4);
  EXPECT_EQ(Le64(*edge, 4 + 0), kMissing) << "chunk (2, 0) is missing";
  EXPECT_EQ(Le64(*edge, 4 + 16), 0u) << "chunk (2, 1)";
  EXPECT_EQ(Le64(*edge, 4 + 24), 4u);
  EXPECT_EQ(Le64(*edge, 4 + 32), kMissing) << "row 3 lies past the grid";
  EXPECT_EQ(Le64(*edge, 4 + 48), kMissing);

  const nlohmann::json state = writer->SaveState();
  EXPECT_EQ(state["chunks_written"], 4);
  EXPECT_EQ(state["shards_written"], 2);
  EXPECT_TRUE(state["acknowledging"].empty()) << state.dump();
}

TEST_F(ShardWriterTest, ACheckpointBetweenOneShardsFoldsResumesWithoutRewritingIt) {
  std::unique_ptr<ChunkConsumer> first = Make();
  Outcome o[4];
  Feed(*first, 0, 0, 1, false, o[0]);
  Feed(*first, 0, 1, 2, false, o[1]);
  Feed(*first, 1, 0, 3, false, o[2]);
  Feed(*first, 1, 1, 4, false, o[3]);
  ASSERT_TRUE(o[0].contribution && o[1].contribution);
  first->Fold(0, *o[0].contribution);
  first->Fold(1, *o[1].contribution);
  const nlohmann::json state = first->SaveState();  // the checkpoint: chunks 0 and 1 done
  EXPECT_EQ(state["acknowledging"], (nlohmann::json{{"c/0/0", 2}})) << state.dump();

  // The resumed run gets the two chunks not done; the shard holding them is in the sink.
  store_->Clear();
  std::unique_ptr<ChunkConsumer> resumed = Make();
  ASSERT_TRUE(resumed->RestoreState(state).ok());
  Outcome r[2];
  Feed(*resumed, 1, 0, 3, false, r[0]);
  Feed(*resumed, 1, 1, 4, false, r[1]);
  ASSERT_TRUE(r[0].called && r[1].called) << "not waiting for chunks that will not come again";
  resumed->Fold(2, *r[0].contribution);
  resumed->Fold(3, *r[1].contribution);
  EXPECT_FALSE(Stored("c/0/0").has_value()) << "written again with two of its four chunks";
  const nlohmann::json after = resumed->SaveState();
  EXPECT_EQ(after["chunks_written"], 4) << "every chunk counted once";
  EXPECT_EQ(after["shards_written"], 1);
  EXPECT_TRUE(after["acknowledging"].empty()) << after.dump();
}

TEST_F(ShardWriterTest, OnStopLetsHeldChunksGoAndDropsLaterOnes) {
  std::unique_ptr<ChunkConsumer> writer = Make();
  Outcome held, later;
  Feed(*writer, 0, 0, 1, false, held);
  EXPECT_FALSE(held.called);
  writer->OnStop();
  EXPECT_TRUE(held.called && held.ok);
  EXPECT_EQ(held.contribution, nullptr) << "dropped, not done: redone on resume";
  Feed(*writer, 0, 1, 2, false, later);
  EXPECT_TRUE(later.called && later.ok);
  EXPECT_EQ(later.contribution, nullptr);
  EXPECT_FALSE(Stored("c/0/0").has_value());
}

}  // namespace
}  // namespace batchd::pipeline
