// XXH64 and CRC-32C against published vectors, and the two CRC-32C implementations against
// each other on many lengths and alignments.
#include <gtest/gtest.h>

#include <string_view>

#include "codec_test_data.h"
#include "pipeline/codecs/crc32c_paths.h"
#include "pipeline/ops/digest.h"

namespace batchd::pipeline {
namespace {

ByteView View(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// The buffer xxHash's own sanity test hashes (cli/xsum_sanity_check.c): bytes taken from the
// top of a 64-bit multiplicative sequence.
Bytes XxhashSanityBuffer(size_t size) {
  constexpr uint64_t kPrime32 = 2654435761u;
  constexpr uint64_t kPrime64 = 11400714785074694797ull;
  Bytes buffer(size);
  uint64_t generator = kPrime32;
  for (uint8_t& byte : buffer) {
    byte = static_cast<uint8_t>(generator >> 56);
    generator *= kPrime64;
  }
  return buffer;
}

TEST(XxHash64Test, MatchesTheReferenceVectors) {
  constexpr uint64_t kPrime32 = 2654435761u;
  const Bytes buffer = XxhashSanityBuffer(222);
  struct Vector {
    size_t length;
    uint64_t seed;
    uint64_t hash;
  };
  for (const Vector& v :
       {Vector{0, 0, 0xEF46DB3751D8E999ull}, Vector{0, kPrime32, 0xAC75FDA2929B17EFull},
        Vector{1, 0, 0xE934A84ADB052768ull}, Vector{1, kPrime32, 0x5014607643A9B4C3ull},
        Vector{4, 0, 0x9136A0DCA57457EEull}, Vector{14, 0, 0x8282DCC4994E35C8ull},
        Vector{14, kPrime32, 0xC3BD6BF63DEB6DF0ull}, Vector{222, 0, 0xB641AE8CB691C174ull},
        Vector{222, kPrime32, 0x20CB8AB7AE10C14Aull}}) {
    EXPECT_EQ(XxHash64(ByteView(buffer).first(v.length), v.seed), v.hash)
        << v.length << " bytes, seed " << v.seed;
  }
}

TEST(XxHash64Test, EmptyInputAndSeedsDiffer) {
  EXPECT_EQ(XxHash64({}), 0xEF46DB3751D8E999ull);
  EXPECT_NE(XxHash64(View("abc"), 0), XxHash64(View("abc"), 1));
}

// RFC 3720 (iSCSI), appendix B.4, and the customary "123456789" check value.
TEST(Crc32cTest, MatchesTheReferenceVectors) {
  EXPECT_EQ(Crc32c(View("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(Bytes(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(Bytes(32, 0xFF)), 0x62A8AB43u);
  Bytes ascending(32), descending(32);
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<uint8_t>(i);
    descending[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32cTest, EmptyInputIsZero) { EXPECT_EQ(Crc32c({}), 0u); }

TEST(Crc32cTest, PortablePathMatchesTheReferenceVectors) {
  EXPECT_EQ(crc32c::Portable(View("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c::Portable(Bytes(32, 0xFF)), 0x62A8AB43u);
  EXPECT_EQ(crc32c::Portable({}), 0u);
}

TEST(Crc32cTest, HardwarePathMatchesThePortableOneOnEveryLengthAndAlignment) {
  if (!crc32c::HardwareAvailable()) {
    GTEST_SKIP() << "this CPU has no SSE4.2: only the portable path runs here";
  }
  EXPECT_EQ(crc32c::Hardware(View("123456789")), 0xE3069283u);
  const Bytes data = testing::RandomBytes(70000, 1);
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t length = 0; length < 300; ++length) {
      const ByteView slice = ByteView(data).subspan(offset, length);
      ASSERT_EQ(crc32c::Hardware(slice), crc32c::Portable(slice))
          << "offset " << offset << ", length " << length;
    }
  }
  for (size_t length : {4095, 4096, 4097, 65536, 69984}) {
    const ByteView slice = ByteView(data).subspan(3, length);
    EXPECT_EQ(crc32c::Hardware(slice), crc32c::Portable(slice)) << length;
  }
}

TEST(Crc32cTest, DetectsEverySingleBitFlip) {
  Bytes data = testing::RandomBytes(256, 2);
  const uint32_t original = Crc32c(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(Crc32c(data), original) << bit;
    EXPECT_EQ(crc32c::Portable(data), Crc32c(data)) << bit;
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace batchd::pipeline
