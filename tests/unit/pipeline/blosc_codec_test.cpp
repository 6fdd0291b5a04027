// blosc: what the header records (element size, shuffle, compressor, numcodecs' AUTOSHUFFLE
// rule), that decoding follows the header rather than the config, and that headers which lie
// about sizes, blocks or offsets are kCorrupt before libblosc reads anything.
#include <blosc.h>
#include <gtest/gtest.h>

#include "codec_test_data.h"
#include "guarded_buffer.h"
#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

using testing::FieldBytes;
using testing::GuardedBuffer;

constexpr size_t kChunkSize = 1 << 20;

void Store32(Bytes& buffer, size_t offset, uint32_t value) {
  for (int i = 0; i < 4; ++i) buffer[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

class BloscCodecTest : public ::testing::Test {
 protected:
  BloscCodecTest() { RegisterBuiltinCodecs(registry_); }

  Bytes Encode(const nlohmann::json& config, size_t element_size, ByteView data) const {
    auto codec = registry_.Create(config, {.element_size = element_size});
    EXPECT_TRUE(codec.ok()) << codec.status().ToString();
    Bytes out;
    EXPECT_TRUE((*codec)->Encode(data, out).ok());
    return out;
  }

  Status Decode(ByteView in, size_t size) const {
    auto codec = registry_.Create({{"id", "blosc"}}, {.element_size = 4});
    EXPECT_TRUE(codec.ok());
    GuardedBuffer input(in);
    GuardedBuffer output(size);
    return (*codec)->DecodeInto(input.view(), output.span());
  }

  // A real multi-block buffer of a 1 MiB float32 chunk, to damage.
  Bytes ValidBuffer() const { return Encode({{"id", "blosc"}}, 4, FieldBytes(kChunkSize, 1)); }

  CodecRegistry registry_;
};

TEST_F(BloscCodecTest, HeaderRecordsElementSizeShuffleAndCompressor) {
  struct Case {
    int shuffle;
    size_t element_size;
    int expected_flags;  // of BLOSC_DOSHUFFLE | BLOSC_DOBITSHUFFLE
  };
  const Bytes data = FieldBytes(65536, 2);
  for (const Case& c : {Case{0, 4, 0}, Case{1, 4, BLOSC_DOSHUFFLE}, Case{2, 4, BLOSC_DOBITSHUFFLE},
                        Case{-1, 1, BLOSC_DOBITSHUFFLE}, Case{-1, 2, BLOSC_DOSHUFFLE},
                        Case{-1, 8, BLOSC_DOSHUFFLE}}) {
    const Bytes encoded =
        Encode({{"id", "blosc"}, {"cname", "zstd"}, {"shuffle", c.shuffle}}, c.element_size, data);
    size_t typesize = 0;
    int flags = 0;
    blosc_cbuffer_metainfo(encoded.data(), &typesize, &flags);
    EXPECT_EQ(typesize, c.element_size) << "shuffle " << c.shuffle;
    EXPECT_EQ(flags & (BLOSC_DOSHUFFLE | BLOSC_DOBITSHUFFLE), c.expected_flags)
        << "shuffle " << c.shuffle << ", element size " << c.element_size;
    EXPECT_STREQ(blosc_cbuffer_complib(encoded.data()), "Zstd");
  }
}

TEST_F(BloscCodecTest, DecodingFollowsTheHeaderNotTheConfig) {
  const Bytes original = FieldBytes(65536, 3);
  // Written as zlib, 8-byte bit-shuffled; read by a codec configured for lz4 and 4 bytes.
  const Bytes encoded = Encode({{"id", "blosc"}, {"cname", "zlib"}, {"shuffle", 2}}, 8, original);
  auto reader = registry_.Create({{"id", "blosc"}}, {.element_size = 4});
  ASSERT_TRUE(reader.ok());
  Bytes decoded(original.size());
  ASSERT_OK((*reader)->DecodeInto(encoded, decoded));
  EXPECT_TRUE(decoded == original);
}

TEST_F(BloscCodecTest, SizesThatDisagreeWithTheInputOrTheChunkAreCorrupt) {
  const Bytes valid = ValidBuffer();
  EXPECT_EQ(Decode(ByteView(valid).first(15), kChunkSize).message(),
            "blosc: input is 15 bytes, shorter than the 16-byte header");
  EXPECT_EQ(Decode(ByteView(valid).first(100), kChunkSize).message(),
            "blosc: header says " + std::to_string(valid.size()) +
                " compressed bytes, the input has 100");
  EXPECT_EQ(Decode(valid, kChunkSize - 4).message(),
            "blosc: header says 1048576 bytes, the chunk needs 1048572");
  Bytes newer = valid;
  newer[0] = 9;
  EXPECT_EQ(Decode(newer, kChunkSize).message().rfind("blosc: header format version 9 is newer", 0),
            0u);
}

TEST_F(BloscCodecTest, LyingHeadersAreCorruptBeforeLibbloscReadsThem) {
  const Bytes valid = ValidBuffer();
  ASSERT_OK(Decode(valid, kChunkSize));
  size_t nbytes = 0, cbytes = 0, blocksize = 0;
  blosc_cbuffer_sizes(valid.data(), &nbytes, &cbytes, &blocksize);
  const size_t blocks = kChunkSize / blocksize;
  ASSERT_GE(blocks, 2u);

  Bytes memcpyed = valid;
  memcpyed[2] |= BLOSC_MEMCPYED;  // "stored uncompressed": would copy 1 MiB from a short buffer
  EXPECT_EQ(Decode(memcpyed, kChunkSize).message(),
            "blosc: header says the 1048576 bytes are stored uncompressed, but " +
                std::to_string(valid.size() - 16) + " follow the header");

  Bytes no_typesize = valid;
  no_typesize[3] = 0;
  EXPECT_EQ(Decode(no_typesize, kChunkSize).message(), "blosc: header has an element size of 0");

  Bytes zero_blocksize = valid;
  Store32(zero_blocksize, 8, 0);
  EXPECT_EQ(Decode(zero_blocksize, kChunkSize).message(),
            "blosc: header has a block size of 0 for 1048576 bytes");

  Bytes huge_blocksize = valid;  // libblosc would allocate scratch space of this size
  Store32(huge_blocksize, 8, 0x7FFFFFF0);
  EXPECT_EQ(Decode(huge_blocksize, kChunkSize).message(),
            "blosc: header has a block size of 2147483632 for 1048576 bytes");

  Bytes tiny_blocksize = valid;  // 2^20 block offsets cannot fit in the buffer
  Store32(tiny_blocksize, 8, 1);
  EXPECT_EQ(Decode(tiny_blocksize, kChunkSize).message(),
            "blosc: header announces 1048576 blocks, more than " + std::to_string(cbytes) +
                " bytes can hold");

  Bytes offset_past_end = valid;
  Store32(offset_past_end, 16 + 4 * (blocks - 1), static_cast<uint32_t>(cbytes));
  EXPECT_EQ(Decode(offset_past_end, kChunkSize).message(),
            "blosc: block " + std::to_string(blocks - 1) + " starts at byte " +
                std::to_string(cbytes) + ", outside the " + std::to_string(cbytes) +
                "-byte buffer");

  Bytes offset_into_table = valid;
  Store32(offset_into_table, 16, 16);
  EXPECT_EQ(
      Decode(offset_into_table, kChunkSize).message(),
      "blosc: block 0 starts at byte 16, outside the " + std::to_string(cbytes) + "-byte buffer");
}

// Blocks whose offsets are in range but whose contents are garbage reach libblosc itself,
// which must fail cleanly (the guarded buffers catch any overrun).
TEST_F(BloscCodecTest, DamagedBlocksAreReportedByLibbloscAsCorrupt) {
  const Bytes valid = ValidBuffer();
  size_t nbytes = 0, cbytes = 0, blocksize = 0;
  blosc_cbuffer_sizes(valid.data(), &nbytes, &cbytes, &blocksize);
  const size_t table_end = 16 + 4 * (kChunkSize / blocksize);
  Bytes damaged = valid;
  for (size_t i = table_end; i < damaged.size(); ++i) damaged[i] = static_cast<uint8_t>(i * 131);
  Status status = Decode(damaged, kChunkSize);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_EQ(status.message().rfind("blosc: the LZ4 data is damaged (libblosc error", 0), 0u)
      << status.message();

  Bytes unknown_compressor = valid;
  unknown_compressor[2] = static_cast<uint8_t>((unknown_compressor[2] & 0x1F) | (7 << 5));
  status = Decode(unknown_compressor, kChunkSize);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt) << status.ToString();
}

}  // namespace
}  // namespace batchd::pipeline
