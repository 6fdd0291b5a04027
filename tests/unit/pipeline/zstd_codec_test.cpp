// zstd decoding beyond one frame with a content size: frames without one (what streaming
// encoders write), concatenated and skippable frames, checksums; and its error messages.
#include <gtest/gtest.h>
#include <zstd.h>

#include "codec_test_data.h"
#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

using testing::FieldBytes;

// A frame the way `zstd` on a pipe writes it: streamed, no content size in the header.
Bytes StreamedFrame(ByteView data) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  Bytes frame(ZSTD_compressBound(data.size()) + 64);
  ZSTD_outBuffer output{frame.data(), frame.size(), 0};
  ZSTD_inBuffer input{data.data(), data.size(), 0};
  // Feeding the data before announcing the end keeps zstd from learning the total size.
  size_t remaining = ZSTD_compressStream2(context, &output, &input, ZSTD_e_continue);
  EXPECT_FALSE(ZSTD_isError(remaining));
  ZSTD_inBuffer no_more_input{nullptr, 0, 0};
  do {
    remaining = ZSTD_compressStream2(context, &output, &no_more_input, ZSTD_e_end);
  } while (remaining != 0 && !ZSTD_isError(remaining));
  ZSTD_freeCCtx(context);
  EXPECT_FALSE(ZSTD_isError(remaining));
  frame.resize(output.pos);
  return frame;
}

Bytes SkippableFrame(size_t payload) {
  Bytes frame = {0x50, 0x2A, 0x4D, 0x18};  // ZSTD_MAGIC_SKIPPABLE_START, little-endian
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<uint8_t>(payload >> (8 * i)));
  frame.resize(frame.size() + payload, 0xAB);
  return frame;
}

Bytes Concatenate(std::initializer_list<ByteView> parts) {
  Bytes all;
  for (ByteView part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

class ZstdCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinCodecs(registry_);
    ASSERT_OK_AND_ASSIGN(codec_, registry_.Create({{"id", "zstd"}, {"level", 3}}, {}));
  }

  Bytes Encode(ByteView data) const {
    Bytes out;
    EXPECT_TRUE(codec_->Encode(data, out).ok());
    return out;
  }

  CodecRegistry registry_;
  std::unique_ptr<const Codec> codec_;
};

TEST_F(ZstdCodecTest, WritesOneFrameWithItsContentSize) {
  const Bytes encoded = Encode(FieldBytes(100000, 1));
  EXPECT_EQ(ZSTD_getFrameContentSize(encoded.data(), encoded.size()), 100000u);
  EXPECT_EQ(ZSTD_findFrameCompressedSize(encoded.data(), encoded.size()), encoded.size());
}

TEST_F(ZstdCodecTest, DecodesAFrameWithoutAContentSize) {
  const Bytes original = FieldBytes((1 << 20) + 3, 2);
  const Bytes frame = StreamedFrame(original);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Bytes decoded(original.size());
  ASSERT_OK(codec_->DecodeInto(frame, decoded));
  EXPECT_TRUE(decoded == original);

  Bytes one_more(original.size() + 1), one_less(original.size() - 1);
  EXPECT_EQ(codec_->DecodeInto(frame, one_more).message(),
            "zstd: decodes to 1048579 bytes, the chunk needs 1048580");
  EXPECT_EQ(codec_->DecodeInto(frame, one_less).message(),
            "zstd: decodes to more than the 1048578 bytes the chunk needs");
}

TEST_F(ZstdCodecTest, DecodesConcatenatedAndSkippableFrames) {
  const Bytes first = FieldBytes(30000, 3), second = FieldBytes(20000, 4);
  const Bytes expected = Concatenate({first, second});
  const Bytes a = Encode(first), b = StreamedFrame(second), skip = SkippableFrame(10);
  for (const Bytes& input : {Concatenate({a, b}), Concatenate({skip, a, skip, b, skip}),
                             Concatenate({StreamedFrame(first), Encode(second)})}) {
    Bytes decoded(expected.size());
    ASSERT_OK(codec_->DecodeInto(input, decoded));
    EXPECT_TRUE(decoded == expected);
  }
  Bytes too_small(first.size());
  EXPECT_EQ(codec_->DecodeInto(Concatenate({a, Encode(second)}), too_small).message(),
            "zstd: frames hold 50000 bytes, the chunk needs 30000");
}

TEST_F(ZstdCodecTest, OnlySkippableFramesDecodeToNothing) {
  const Bytes skip = SkippableFrame(3);
  ASSERT_OK(codec_->DecodeInto(skip, {}));
  Bytes one(1);
  EXPECT_EQ(codec_->DecodeInto(skip, one).message(),
            "zstd: frames hold 0 bytes, the chunk needs 1");
}

TEST_F(ZstdCodecTest, ChecksumIsWrittenWhenAskedAndAlwaysVerified) {
  ASSERT_OK_AND_ASSIGN(auto checksummed,
                       registry_.Create({{"id", "zstd"}, {"checksum", true}}, {}));
  const Bytes original = FieldBytes(50000, 5);
  Bytes with_checksum;
  ASSERT_OK(checksummed->Encode(original, with_checksum));
  const Bytes without_checksum = Encode(original);
  // Frame header descriptor, bit 2: Content_Checksum_flag (RFC 8878, 3.1.1.1.1).
  EXPECT_TRUE(with_checksum[4] & 0x04);
  EXPECT_FALSE(without_checksum[4] & 0x04);

  Bytes damaged = with_checksum;
  damaged.back() ^= 0x01;  // the last 4 bytes are the checksum
  Bytes decoded(original.size());
  Status status = codec_->DecodeInto(damaged, decoded);  // a codec without checksum:true
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_NE(status.message().find("checksum"), std::string::npos) << status.message();
}

TEST_F(ZstdCodecTest, SaysWhatIsWrong) {
  const Bytes encoded = Encode(FieldBytes(4096, 6));
  Bytes out(4096);
  EXPECT_EQ(codec_->DecodeInto({}, out).message(), "zstd: input is empty, there is no frame");
  const Bytes not_zstd = {'P', 'K', 3, 4, 0, 0, 0, 0};
  EXPECT_EQ(codec_->DecodeInto(not_zstd, out).message(),
            "zstd: frame 1 (at byte 0) is not a zstd frame (bad magic number)");
  EXPECT_EQ(codec_->DecodeInto(ByteView(encoded).first(encoded.size() - 1), out).message(),
            "zstd: frame 1 (at byte 0) is truncated");
  const Bytes trailing = Concatenate({encoded, not_zstd});
  EXPECT_EQ(codec_->DecodeInto(trailing, out).message(),
            "zstd: frame 2 (at byte " + std::to_string(encoded.size()) +
                ") is not a zstd frame (bad magic number)");
  Bytes wrong_size(4000);
  EXPECT_EQ(codec_->DecodeInto(encoded, wrong_size).message(),
            "zstd: frames hold 4096 bytes, the chunk needs 4000");
}

}  // namespace
}  // namespace batchd::pipeline
