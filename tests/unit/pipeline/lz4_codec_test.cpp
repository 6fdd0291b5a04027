// lz4's wire format (numcodecs framing: a 4-byte little-endian decoded size, then one LZ4
// block), checked against liblz4 directly, and its error messages.
#include <gtest/gtest.h>
#include <lz4.h>
#include <lz4hc.h>

#include "codec_test_data.h"
#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

using testing::FieldBytes;

class Lz4CodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinCodecs(registry_);
    ASSERT_OK_AND_ASSIGN(codec_, registry_.Create({{"id", "lz4"}}, {}));
  }

  CodecRegistry registry_;
  std::unique_ptr<const Codec> codec_;
};

TEST_F(Lz4CodecTest, WritesTheDecodedSizeThenOneBlock) {
  const Bytes original = FieldBytes(70000, 1);
  Bytes encoded;
  ASSERT_OK(codec_->Encode(original, encoded));
  ASSERT_GT(encoded.size(), 4u);
  EXPECT_EQ(encoded[0] | encoded[1] << 8 | encoded[2] << 16 | encoded[3] << 24, 70000);
  Bytes decoded(original.size());
  const int produced = LZ4_decompress_safe(
      reinterpret_cast<const char*>(encoded.data() + 4), reinterpret_cast<char*>(decoded.data()),
      static_cast<int>(encoded.size() - 4), static_cast<int>(decoded.size()));
  EXPECT_EQ(produced, 70000);
  EXPECT_TRUE(decoded == original);
}

TEST_F(Lz4CodecTest, AnEmptyChunkIsTheHeaderAndAOneByteBlock) {
  Bytes encoded;
  ASSERT_OK(codec_->Encode({}, encoded));
  EXPECT_EQ(encoded, (Bytes{0, 0, 0, 0, 0}));
  ASSERT_OK(codec_->DecodeInto(encoded, {}));
}

TEST_F(Lz4CodecTest, DecodesABlockMadeByLiblz4) {
  const Bytes original = FieldBytes(4096, 2);
  Bytes framed(4 + LZ4_compressBound(4096));
  framed[0] = 0x00;
  framed[1] = 0x10;  // 4096, little-endian
  framed[2] = framed[3] = 0;
  const int written =
      LZ4_compress_HC(reinterpret_cast<const char*>(original.data()),
                      reinterpret_cast<char*>(framed.data() + 4), 4096, LZ4_compressBound(4096), 9);
  ASSERT_GT(written, 0);
  framed.resize(4 + written);
  Bytes decoded(4096);
  ASSERT_OK(codec_->DecodeInto(framed, decoded));
  EXPECT_TRUE(decoded == original);
}

TEST_F(Lz4CodecTest, SaysWhatIsWrong) {
  Bytes encoded;
  ASSERT_OK(codec_->Encode(FieldBytes(1000, 3), encoded));
  Bytes out(999);
  EXPECT_EQ(codec_->DecodeInto(encoded, out).message(),
            "lz4: header says 1000 bytes, the chunk needs 999");
  EXPECT_EQ(codec_->DecodeInto(ByteView(encoded).first(3), out).message(),
            "lz4: input is 3 bytes, too short for the 4-byte size header");
  Bytes right_size(1000);
  EXPECT_EQ(codec_->DecodeInto(ByteView(encoded).first(encoded.size() - 1), right_size).message(),
            "lz4: block is malformed or truncated (" + std::to_string(encoded.size() - 5) +
                " bytes after the header)");
}

// A block that is valid LZ4 but shorter than its header claims.
TEST_F(Lz4CodecTest, ABlockShorterThanItsHeaderIsCorrupt) {
  const Bytes original = FieldBytes(100, 4);
  Bytes encoded;
  ASSERT_OK(codec_->Encode(original, encoded));
  Bytes inner(LZ4_compressBound(50) + 4);
  const int written =
      LZ4_compress_default(reinterpret_cast<const char*>(original.data()),
                           reinterpret_cast<char*>(inner.data() + 4), 50, LZ4_compressBound(50));
  ASSERT_GT(written, 0);
  inner.resize(4 + written);
  inner[0] = 100;
  inner[1] = inner[2] = inner[3] = 0;
  Bytes out(100);
  Status status = codec_->DecodeInto(inner, out);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_EQ(status.message(), "lz4: block decodes to 50 bytes, the header says 100");
}

}  // namespace
}  // namespace batchd::pipeline
