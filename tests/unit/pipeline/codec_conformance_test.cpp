// The conformance suite every registered codec config passes (codec.h): exact round trips at
// every size, the JSON config round trip, and, for damaged input, kCorrupt naming the codec or
// a correct-size decode, never a crash. Inputs and outputs live in GuardedBuffers, so a read or
// write one byte past a span crashes here even inside the (uninstrumented) compression libraries.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "codec_test_data.h"
#include "guarded_buffer.h"
#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

using testing::FieldBytes;
using testing::GuardedBuffer;
using testing::RandomBytes;

struct CodecCase {
  std::string name;
  nlohmann::json config;
  size_t element_size = 1;
};

std::vector<CodecCase> AllCodecCases() {
  std::vector<CodecCase> cases = {
      {"raw", {{"id", "raw"}}},
      {"lz4", {{"id", "lz4"}}},
      {"lz4_acceleration_9", {{"id", "lz4"}, {"acceleration", 9}}},
      {"zstd", {{"id", "zstd"}}},
      {"zstd_level_3", {{"id", "zstd"}, {"level", 3}}},
      {"zstd_level_minus_5", {{"id", "zstd"}, {"level", -5}}},
      {"zstd_level_9_checksum", {{"id", "zstd"}, {"level", 9}, {"checksum", true}}},
      {"zlib", {{"id", "zlib"}}},
      {"zlib_level_9", {{"id", "zlib"}, {"level", 9}}},
      {"zlib_level_default", {{"id", "zlib"}, {"level", -1}}},
      {"gzip", {{"id", "gzip"}}},
      {"gzip_level_6", {{"id", "gzip"}, {"level", 6}}},
      {"bz2", {{"id", "bz2"}}},
      {"bz2_level_9", {{"id", "bz2"}, {"level", 9}}},
      {"crc32c", {{"id", "crc32c"}}},
  };
  for (const char* cname : {"lz4", "zstd", "blosclz"}) {
    for (const auto& [shuffle_name, shuffle] :
         std::vector<std::pair<std::string, int>>{{"noshuffle", 0}, {"byte", 1}, {"bit", 2}}) {
      for (size_t element_size : {1, 2, 4, 8}) {
        cases.push_back({"blosc_" + std::string(cname) + "_" + shuffle_name + "_elem" +
                             std::to_string(element_size),
                         {{"id", "blosc"}, {"cname", cname}, {"clevel", 5}, {"shuffle", shuffle}},
                         element_size});
      }
    }
  }
  cases.push_back({"blosc_lz4hc_auto_elem1",
                   {{"id", "blosc"}, {"cname", "lz4hc"}, {"shuffle", -1}, {"clevel", 9}},
                   1});
  cases.push_back({"blosc_zlib_auto_elem4_blocksize_16k",
                   {{"id", "blosc"}, {"cname", "zlib"}, {"shuffle", -1}, {"blocksize", 16384}},
                   4});
  cases.push_back({"blosc_lz4_clevel0_elem4", {{"id", "blosc"}, {"clevel", 0}}, 4});
  return cases;
}

constexpr size_t kLargeSize = (1 << 20) + 3;

class CodecConformanceTest : public ::testing::TestWithParam<CodecCase> {
 protected:
  void SetUp() override {
    RegisterBuiltinCodecs(registry_);
    auto codec = registry_.Create(GetParam().config, Context());
    ASSERT_TRUE(codec.ok()) << codec.status().ToString();
    codec_ = std::move(codec).value();
  }

  CodecContext Context() const { return {.element_size = GetParam().element_size}; }
  std::string Id() const { return GetParam().config.at("id").get<std::string>(); }

  Bytes Encode(ByteView in) const {
    Bytes out;
    Status status = codec_->Encode(in, out);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return out;
  }

  // Decodes `in` from a guarded copy into a guarded output of `size` bytes. The guarded
  // buffers are reused (mapping pages for each of thousands of decodes would dominate the run).
  Status Decode(ByteView in, size_t size, Bytes* decoded = nullptr) {
    const ByteView input = Guarded(input_, in.size()).Place(in);
    const MutableByteView output = Guarded(output_, size).Tail(size);
    Status status = codec_->DecodeInto(input, output);
    if (decoded != nullptr) decoded->assign(output.begin(), output.end());
    return status;
  }

  static GuardedBuffer& Guarded(std::unique_ptr<GuardedBuffer>& buffer, size_t size) {
    if (!buffer || buffer->size() < size) buffer = std::make_unique<GuardedBuffer>(size);
    return *buffer;
  }

  // Damaged input must give kCorrupt naming the codec, or a decode of the right size (which the
  // guarded output enforces); anything else is a contract violation.
  void ExpectCorruptOrDecodes(ByteView in, size_t size, const std::string& what) {
    Status status = Decode(in, size);
    if (status.ok()) return;
    EXPECT_EQ(status.code(), StatusCode::kCorrupt) << what << ": " << status.ToString();
    EXPECT_EQ(status.message().rfind(Id() + ":", 0), 0u) << what << ": " << status.ToString();
  }

  void ExpectCorrupt(ByteView in, size_t size, const std::string& what) {
    Status status = Decode(in, size);
    EXPECT_EQ(status.code(), StatusCode::kCorrupt) << what << ": " << status.ToString();
    EXPECT_EQ(status.message().rfind(Id() + ":", 0), 0u) << what << ": " << status.ToString();
  }

  CodecRegistry registry_;
  std::unique_ptr<const Codec> codec_;
  std::unique_ptr<GuardedBuffer> input_;
  std::unique_ptr<GuardedBuffer> output_;
};

TEST_P(CodecConformanceTest, RoundTripsEverySizeOfRandomAndFieldData) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}, kLargeSize}) {
    for (bool random : {true, false}) {
      const Bytes original = random ? RandomBytes(size, size) : FieldBytes(size, size);
      const Bytes encoded = Encode(original);
      Bytes decoded;
      ASSERT_OK(Decode(encoded, size, &decoded));
      EXPECT_TRUE(decoded == original) << size << " bytes, random=" << random;
    }
  }
}

// Catches a codec that silently stores: data made of one repeated 64-byte record compresses
// at least fourfold with every compressor and shuffle (but not with raw or clevel 0).
TEST_P(CodecConformanceTest, CompressesRepetitiveDataUnlessStoring) {
  const Bytes record = RandomBytes(64, 12);
  Bytes original;
  while (original.size() < kLargeSize)
    original.insert(original.end(), record.begin(), record.end());
  const Bytes encoded = Encode(original);
  if (Id() == "raw" || Id() == "crc32c" || GetParam().config.value("clevel", 5) == 0) {
    EXPECT_GE(encoded.size(), original.size());
  } else {
    EXPECT_LT(encoded.size(), original.size() / 4);
  }
}

TEST_P(CodecConformanceTest, EncodeReplacesWhatTheOutputHeld) {
  const Bytes original = FieldBytes(4096, 2);
  Bytes out = RandomBytes(100000, 3);
  ASSERT_OK(codec_->Encode(original, out));
  EXPECT_TRUE(out == Encode(original));
}

TEST_P(CodecConformanceTest, ItsJsonCreatesACodecThatBehavesTheSame) {
  const nlohmann::json json = codec_->ToJson();
  EXPECT_EQ(json.at("id"), Id());
  for (const auto& [key, value] : GetParam().config.items()) {
    EXPECT_EQ(json.at(key), value) << "member " << key << " of " << json.dump();
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<const Codec> again, registry_.Create(json, Context()));
  EXPECT_EQ(again->ToJson(), json);

  const Bytes original = FieldBytes(kLargeSize, 4);
  Bytes encoded_again;
  ASSERT_OK(again->Encode(original, encoded_again));
  const Bytes encoded = Encode(original);
  EXPECT_TRUE(encoded_again == encoded) << "same config, same library: same bytes";
  Bytes decoded(original.size());
  ASSERT_OK(again->DecodeInto(encoded, decoded));
  EXPECT_TRUE(decoded == original);
}

TEST_P(CodecConformanceTest, EmptyInputIsCorruptForANonEmptyChunk) {
  ExpectCorrupt({}, 1, "empty input, 1 byte");
  ExpectCorrupt({}, 4096, "empty input, 4096 bytes");
}

TEST_P(CodecConformanceTest, ExpectingOneByteMoreOrLessIsCorrupt) {
  for (size_t size : {size_t{1}, size_t{7}, size_t{4096}, kLargeSize}) {
    const Bytes encoded = Encode(FieldBytes(size, 5));
    ExpectCorrupt(encoded, size - 1, std::to_string(size) + " bytes decoded as one less");
    ExpectCorrupt(encoded, size + 1, std::to_string(size) + " bytes decoded as one more");
  }
  ExpectCorrupt(Encode({}), 1, "an empty chunk decoded as 1 byte");
}

TEST_P(CodecConformanceTest, EveryTruncationOfASmallChunkIsCorrupt) {
  for (bool random : {true, false}) {
    const Bytes original = random ? RandomBytes(4096, 6) : FieldBytes(4096, 6);
    const Bytes encoded = Encode(original);
    for (size_t length = 0; length < encoded.size(); ++length) {
      ExpectCorrupt(ByteView(encoded).first(length), original.size(),
                    "first " + std::to_string(length) + " of " + std::to_string(encoded.size()) +
                        " bytes, random=" + std::to_string(random));
    }
  }
}

TEST_P(CodecConformanceTest, TruncationsOfALargeChunkAreCorrupt) {
  for (bool random : {true, false}) {
    const Bytes original = random ? RandomBytes(kLargeSize, 7) : FieldBytes(kLargeSize, 7);
    const Bytes encoded = Encode(original);
    std::set<size_t> lengths = {0,
                                1,
                                4,
                                15,
                                16,
                                17,
                                32,
                                encoded.size() / 2,
                                encoded.size() - 4,
                                encoded.size() - 2,
                                encoded.size() - 1};
    std::mt19937_64 random_length(8);
    while (lengths.size() < 60) lengths.insert(random_length() % encoded.size());
    for (size_t length : lengths) {
      if (length >= encoded.size()) continue;
      ExpectCorrupt(
          ByteView(encoded).first(length), original.size(),
          "first " + std::to_string(length) + " of " + std::to_string(encoded.size()) + " bytes");
    }
  }
}

TEST_P(CodecConformanceTest, TrailingBytesAreCorrupt) {
  for (size_t size : {size_t{0}, size_t{7}, size_t{4096}}) {
    Bytes encoded = Encode(FieldBytes(size, 9));
    for (int extra = 1; extra <= 4; ++extra) {
      encoded.push_back(0);
      ExpectCorrupt(
          encoded, size,
          std::to_string(extra) + " zero bytes after " + std::to_string(size) + " encoded bytes");
    }
  }
}

TEST_P(CodecConformanceTest, EveryBitFlipIsCorruptOrDecodesToTheRightSize) {
  for (size_t size : {size_t{7}, size_t{4096}}) {
    const Bytes encoded = Encode(FieldBytes(size, 10));
    // Every bit of the first 1 KiB (headers and the first blocks), then a stride over the rest.
    for (size_t bit = 0; bit < encoded.size() * 8; bit += (bit < 8192 ? 1 : 37)) {
      Bytes damaged = encoded;
      damaged[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      ExpectCorruptOrDecodes(damaged, size, "bit " + std::to_string(bit) + " flipped");
    }
  }
}

TEST_P(CodecConformanceTest, GarbageIsCorruptOrDecodesToTheRightSize) {
  std::mt19937_64 random(11);
  // Pure noise mostly fails on the first check; noise behind a real header gets further in.
  const Bytes valid = Encode(FieldBytes(4096, 11));
  for (int trial = 0; trial < 400; ++trial) {
    const size_t length = random() % 2048;
    Bytes garbage = RandomBytes(length, random());
    const size_t kept = std::min<size_t>({valid.size(), length, size_t{4} << (trial % 4)});
    if (trial % 2 == 1) std::copy_n(valid.begin(), kept, garbage.begin());
    const size_t size = trial % 3 == 0 ? 4096 : random() % 8192;
    ExpectCorruptOrDecodes(garbage, size, "garbage trial " + std::to_string(trial));
  }
}

TEST_P(CodecConformanceTest, OneCodecServesManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t, &mismatches] {
      for (int round = 0; round < 10; ++round) {
        const Bytes original = FieldBytes(65536 + 17 * t, 100 * t + round);
        Bytes encoded, decoded(original.size());
        if (!codec_->Encode(original, encoded).ok() || !codec_->DecodeInto(encoded, decoded).ok() ||
            decoded != original) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecConformanceTest, ::testing::ValuesIn(AllCodecCases()),
                         [](const ::testing::TestParamInfo<CodecCase>& info) {
                           return info.param.name;
                         });

// A codec registered without a case here would escape the suite.
TEST(CodecConformanceCoverageTest, EveryRegisteredCodecHasACase) {
  CodecRegistry registry;
  RegisterBuiltinCodecs(registry);
  std::set<std::string> covered;
  for (const CodecCase& c : AllCodecCases()) covered.insert(c.config.at("id").get<std::string>());
  for (const std::string& id : registry.Ids()) EXPECT_TRUE(covered.contains(id)) << id;
}

}  // namespace
}  // namespace batchd::pipeline
