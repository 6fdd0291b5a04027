// A chunk's whole chain (chunk_codec_chain.h): filters, the codec and outer checksums compose
// (zarr v3 [transpose, bytes, zstd, crc32c] round trips), a damaged checksum or a short stored
// value is a corrupt chunk naming the codec, and an outer codec that cannot say its decoded
// size is refused when the chain is built.
#include "pipeline/filters/chunk_codec_chain.h"

#include <gtest/gtest.h>

#include "codec_test_data.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

ArrayMetadata Array() {
  ArrayMetadata a;
  a.format = "zarr3";
  a.shape = {6, 10};
  a.chunk_shape = {3, 5};
  a.dtype = *DataType::FromNumpy("<u2");
  a.fill_value = 0;
  a.codec = {{"id", "zstd"}, {"level", 3}};
  a.filters = {{{"id", "transpose"}, {"order", {1, 0}}}};
  a.outer_codecs = {{{"id", "crc32c"}}};
  return a;
}

class ChunkCodecChainTest : public ::testing::Test {
 protected:
  ChunkCodecChainTest() { RegisterBuiltinCodecs(codecs_); }
  CodecRegistry codecs_;
};

TEST_F(ChunkCodecChainTest, TransposeZstdCrc32cRoundTripsAndIsLayeredInThatOrder) {
  ASSERT_OK_AND_ASSIGN(auto chain, ChunkCodecChain::Create(codecs_, Array()));
  const Bytes chunk = testing::RandomBytes(3 * 5 * 2, 9);
  Bytes stored;
  ASSERT_OK(chain->Encode(chunk, stored));
  Bytes decoded(chunk.size());
  ASSERT_OK(chain->DecodeInto(stored, decoded));
  EXPECT_TRUE(decoded == chunk);
  // Peel the layers by hand: the last 4 bytes are the CRC, then a zstd frame of the transpose.
  ASSERT_OK_AND_ASSIGN(auto zstd, codecs_.Create({{"id", "zstd"}}, {}));
  Bytes transposed(chunk.size());
  ASSERT_OK(zstd->DecodeInto(ByteView(stored).first(stored.size() - 4), transposed));
  // Element (row 1, column 0) of the 3x5 chunk is element (0, 1) of the stored 5x3 one.
  EXPECT_EQ(transposed[1 * 2], chunk[5 * 2]);
  EXPECT_EQ(transposed[1 * 2 + 1], chunk[5 * 2 + 1]);
}

TEST_F(ChunkCodecChainTest, ADamagedChecksumOrAShortValueIsCorruptNamingCrc32c) {
  ASSERT_OK_AND_ASSIGN(auto chain, ChunkCodecChain::Create(codecs_, Array()));
  const Bytes chunk = testing::RandomBytes(30, 3);
  Bytes stored;
  ASSERT_OK(chain->Encode(chunk, stored));
  Bytes decoded(chunk.size());
  for (size_t at : {size_t{0}, stored.size() / 2, stored.size() - 1}) {
    Bytes damaged = stored;
    damaged[at] ^= 0x10;
    const Status s = chain->DecodeInto(damaged, decoded);
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
    EXPECT_EQ(s.message().rfind("crc32c: the stored checksum", 0), 0u) << s.ToString();
  }
  for (size_t size : {0, 3}) {
    const Status s = chain->DecodeInto(ByteView(stored).first(size), decoded);
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
    EXPECT_EQ(s.message().rfind("crc32c:", 0), 0u) << s.ToString();
  }
}

TEST_F(ChunkCodecChainTest, OnlyCodecsThatKnowTheirDecodedSizeMayFollowTheCompressor) {
  ArrayMetadata a = Array();
  a.outer_codecs = {{{"id", "zlib"}}};
  auto chain = ChunkCodecChain::Create(codecs_, a);
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.status().message().find("\"zlib\" cannot follow the compressor"),
            std::string::npos)
      << chain.status().ToString();
}

TEST_F(ChunkCodecChainTest, WithoutFiltersOrOuterCodecsItIsTheCodecAlone) {
  ArrayMetadata a = Array();
  a.filters = nlohmann::json::array();
  a.outer_codecs = nlohmann::json::array();
  ASSERT_OK_AND_ASSIGN(auto chain, ChunkCodecChain::Create(codecs_, a));
  EXPECT_FALSE(chain->has_filters());
  EXPECT_FALSE(chain->has_outer_codecs());
  const Bytes chunk = testing::RandomBytes(30, 4);
  Bytes ours, plain;
  ASSERT_OK(chain->Encode(chunk, ours));
  ASSERT_OK(chain->codec().Encode(chunk, plain));
  EXPECT_TRUE(ours == plain);
}

}  // namespace
}  // namespace batchd::pipeline
