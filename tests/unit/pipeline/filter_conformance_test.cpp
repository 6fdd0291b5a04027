// The conformance suite every registered filter config passes (filter.h): exact round trips of
// data the filter represents exactly, the JSON config round trip, the encoded size its types
// say, and, for input of the wrong size or garbage, kCorrupt naming the filter or a decode of
// the right size, never a crash. Inputs and outputs live in GuardedBuffers, so a read or write
// one byte past a span crashes here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "codec_test_data.h"
#include "guarded_buffer.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/filters/filter.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

using testing::GuardedBuffer;
using testing::RandomBytes;

// What data a case round-trips exactly.
enum class Data {
  kAnyBytes,        // every bit pattern (integer deltas wrap, transposes move bytes)
  kSmallIntegers,   // elements of the dtype holding integers in [-100, 100] (or [0, 200])
  kTenthsNear1000,  // float64 1000 + k / 10 for k in [0, 3000): FixedScaleOffset's use
};

struct FilterCase {
  std::string name;
  nlohmann::json config;
  std::string dtype;  // the array's (the context)
  std::vector<int64_t> chunk_shape;
  Data data;
};

std::vector<FilterCase> AllFilterCases() {
  std::vector<FilterCase> cases;
  for (const char* t : {"|i1", "|u1", "<i2", ">i2", "<u4", ">i4", "<i8", ">u8"}) {
    cases.push_back({std::string("delta_") + (t[0] == '>' ? "be_" : "") + (t + 1),
                     {{"id", "delta"}, {"dtype", t}},
                     t,
                     {100},
                     Data::kAnyBytes});
  }
  cases.push_back({"delta_u1_as_i2",
                   {{"id", "delta"}, {"dtype", "|u1"}, {"astype", "<i2"}},
                   "|u1",
                   {100},
                   Data::kAnyBytes});
  cases.push_back({"delta_i8_as_i2",
                   {{"id", "delta"}, {"dtype", "<i8"}, {"astype", "<i2"}},
                   "<i8",
                   {100},
                   Data::kSmallIntegers});
  cases.push_back(
      {"delta_f8", {{"id", "delta"}, {"dtype", "<f8"}}, "<f8", {100}, Data::kSmallIntegers});
  cases.push_back(
      {"delta_be_f4", {{"id", "delta"}, {"dtype", ">f4"}}, ">f4", {100}, Data::kSmallIntegers});
  cases.push_back({"delta_f8_as_f4",
                   {{"id", "delta"}, {"dtype", "<f8"}, {"astype", "<f4"}},
                   "<f8",
                   {100},
                   Data::kSmallIntegers});
  cases.push_back({"fixedscaleoffset_f8_as_i2",
                   {{"id", "fixedscaleoffset"},
                    {"offset", 1000},
                    {"scale", 10},
                    {"dtype", "<f8"},
                    {"astype", "<i2"}},
                   "<f8",
                   {3000},
                   Data::kTenthsNear1000});
  cases.push_back({"fixedscaleoffset_f8_as_be_u2",
                   {{"id", "fixedscaleoffset"},
                    {"offset", 1000.0},
                    {"scale", 10.0},
                    {"dtype", "<f8"},
                    {"astype", ">u2"}},
                   "<f8",
                   {3000},
                   Data::kTenthsNear1000});
  cases.push_back({"fixedscaleoffset_f8_as_f8",
                   {{"id", "fixedscaleoffset"}, {"offset", 1000}, {"scale", 10}, {"dtype", "<f8"}},
                   "<f8",
                   {3000},
                   Data::kTenthsNear1000});
  cases.push_back({"fixedscaleoffset_f4_as_u1",
                   {{"id", "fixedscaleoffset"},
                    {"offset", -100},
                    {"scale", 1},
                    {"dtype", "<f4"},
                    {"astype", "|u1"}},
                   "<f4",
                   {100},
                   Data::kSmallIntegers});
  cases.push_back({"fixedscaleoffset_i4_as_u1",
                   {{"id", "fixedscaleoffset"},
                    {"offset", -100},
                    {"scale", 1},
                    {"dtype", "<i4"},
                    {"astype", "|u1"}},
                   "<i4",
                   {100},
                   Data::kSmallIntegers});
  for (const char* t : {"|u1", "<i2", ">f4", "<f8"}) {
    cases.push_back({std::string("transpose_2d_") + (t + 1),
                     {{"id", "transpose"}, {"order", {1, 0}}},
                     t,
                     {7, 5},
                     Data::kAnyBytes});
  }
  cases.push_back({"transpose_3d_201",
                   {{"id", "transpose"}, {"order", {2, 0, 1}}},
                   "<i4",
                   {3, 4, 5},
                   Data::kAnyBytes});
  cases.push_back({"transpose_4d_reversed",
                   {{"id", "transpose"}, {"order", {3, 2, 1, 0}}},
                   "<u2",
                   {2, 3, 1, 4},
                   Data::kAnyBytes});
  cases.push_back({"transpose_identity",
                   {{"id", "transpose"}, {"order", {0, 1}}},
                   "<u2",
                   {3, 3},
                   Data::kAnyBytes});
  cases.push_back(
      {"transpose_1d", {{"id", "transpose"}, {"order", {0}}}, "<f8", {9}, Data::kAnyBytes});
  return cases;
}

template <typename T>
void Put(Bytes& bytes, size_t i, T value, bool big_endian) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  if (big_endian) std::reverse(raw, raw + sizeof(T));
  std::memcpy(bytes.data() + i * sizeof(T), raw, sizeof(T));
}

// n elements of `type` holding small integers (as that type).
Bytes SmallIntegers(const DataType& type, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n * static_cast<size_t>(type.size));
  for (size_t i = 0; i < n; ++i) {
    const int64_t v =
        static_cast<int64_t>(rng() % 201) - (type.kind == DataType::Kind::kUint ? 0 : 100);
    const bool be = type.big_endian;
    if (type.kind == DataType::Kind::kFloat) {
      type.size == 4 ? Put(out, i, static_cast<float>(v), be)
                     : Put(out, i, static_cast<double>(v), be);
    } else {
      switch (type.size) {
        case 1:
          Put(out, i, static_cast<uint8_t>(v), be);
          break;
        case 2:
          Put(out, i, static_cast<uint16_t>(v), be);
          break;
        case 4:
          Put(out, i, static_cast<uint32_t>(v), be);
          break;
        default:
          Put(out, i, static_cast<uint64_t>(v), be);
          break;
      }
    }
  }
  return out;
}

Bytes TenthsNear1000(size_t n) {
  Bytes out(n * 8);
  for (size_t i = 0; i < n; ++i) Put(out, i, 1000.0 + static_cast<double>(i) / 10, false);
  return out;
}

class FilterConformanceTest : public ::testing::TestWithParam<FilterCase> {
 protected:
  void SetUp() override {
    RegisterBuiltinFilters(registry_);
    auto filter = registry_.Create(GetParam().config, Context());
    ASSERT_TRUE(filter.ok()) << filter.status().ToString();
    filter_ = std::move(filter).value();
  }

  FilterContext Context() const {
    return {.dtype = *DataType::FromNumpy(GetParam().dtype), .chunk_shape = GetParam().chunk_shape};
  }
  std::string Id() const { return GetParam().config.at("id").get<std::string>(); }
  size_t Elements() const {
    size_t n = 1;
    for (int64_t c : GetParam().chunk_shape) n *= static_cast<size_t>(c);
    return n;
  }
  size_t DecodedBytes() const { return Elements() * filter_->DecodedType().size; }
  size_t EncodedBytes() const { return Elements() * filter_->EncodedType().size; }

  Bytes Data(uint64_t seed) const {
    switch (GetParam().data) {
      case Data::kAnyBytes:
        return RandomBytes(DecodedBytes(), seed);
      case Data::kSmallIntegers:
        return SmallIntegers(filter_->DecodedType(), Elements(), seed);
      case Data::kTenthsNear1000:
        return TenthsNear1000(Elements());
    }
    return {};
  }

  Status Decode(ByteView in, size_t size, Bytes* decoded = nullptr) {
    GuardedBuffer input(std::max<size_t>(in.size(), 1));
    GuardedBuffer output(std::max<size_t>(size, 1));
    Status status = filter_->DecodeInto(input.Place(in), output.Tail(size));
    if (decoded != nullptr) {
      const MutableByteView out = output.Tail(size);
      decoded->assign(out.begin(), out.end());
    }
    return status;
  }

  void ExpectCorrupt(ByteView in, size_t size, const std::string& what) {
    Status status = Decode(in, size);
    EXPECT_EQ(status.code(), StatusCode::kCorrupt) << what << ": " << status.ToString();
    EXPECT_EQ(status.message().rfind(Id() + ":", 0), 0u) << what << ": " << status.ToString();
  }

  FilterRegistry registry_;
  std::unique_ptr<const Filter> filter_;
};

TEST_P(FilterConformanceTest, RoundTripsExactly) {
  for (uint64_t seed : {1, 2, 3}) {
    const Bytes original = Data(seed);
    Bytes encoded;
    ASSERT_OK(filter_->Encode(original, encoded));
    EXPECT_EQ(encoded.size(), EncodedBytes());
    Bytes decoded;
    ASSERT_OK(Decode(encoded, original.size(), &decoded));
    EXPECT_TRUE(decoded == original) << "seed " << seed;
  }
}

TEST_P(FilterConformanceTest, ConfigRoundTripsThroughToJson) {
  const nlohmann::json config = filter_->ToJson();
  EXPECT_EQ(config.at("id"), Id());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<const Filter> again, registry_.Create(config, Context()));
  EXPECT_EQ(again->ToJson(), config);
  EXPECT_EQ(again->DecodedType(), filter_->DecodedType());
  EXPECT_EQ(again->EncodedType(), filter_->EncodedType());
  EXPECT_EQ(filter_->DecodedType().size, Context().dtype.size);
  // The same data encodes to the same bytes with either.
  const Bytes original = Data(7);
  Bytes a, b;
  ASSERT_OK(filter_->Encode(original, a));
  ASSERT_OK(again->Encode(original, b));
  EXPECT_TRUE(a == b);
}

TEST_P(FilterConformanceTest, InputOfTheWrongSizeIsCorruptNamingTheFilter) {
  Bytes encoded;
  ASSERT_OK(filter_->Encode(Data(4), encoded));
  const size_t n = DecodedBytes();
  ExpectCorrupt(ByteView(encoded).first(encoded.size() - 1), n, "one byte short");
  Bytes longer = encoded;
  longer.push_back(0);
  ExpectCorrupt(longer, n, "one byte more");
  const size_t element = filter_->EncodedType().size;
  ExpectCorrupt(ByteView(encoded).first(encoded.size() - element), n, "one element short");
  ExpectCorrupt(encoded, n + filter_->DecodedType().size, "an output one element longer");
  ExpectCorrupt({}, n, "empty input");
}

TEST_P(FilterConformanceTest, GarbageDecodesOrIsCorruptNeverCrashes) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const Bytes garbage = RandomBytes(EncodedBytes(), seed);
    Status status = Decode(garbage, DecodedBytes());
    if (status.ok()) continue;
    EXPECT_EQ(status.code(), StatusCode::kCorrupt) << status.ToString();
    EXPECT_EQ(status.message().rfind(Id() + ":", 0), 0u) << status.ToString();
  }
  // Short garbage of every length up to a few elements: never a crash.
  for (size_t size = 0; size < 40; ++size) {
    Status status = Decode(RandomBytes(size, size), DecodedBytes());
    if (!status.ok()) {
      EXPECT_EQ(status.code(), StatusCode::kCorrupt) << status.ToString();
    }
  }
}

TEST_P(FilterConformanceTest, EncodeRefusesPartialElements) {
  // With 1-byte elements every length is a whole number of them; a transpose takes one chunk.
  if (filter_->DecodedType().size == 1 && Id() != "transpose") GTEST_SKIP();
  const Bytes original = Data(5);
  Bytes out;
  const Status s = filter_->Encode(ByteView(original).first(original.size() - 1), out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message().rfind(Id() + ":", 0), 0u) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(AllFilters, FilterConformanceTest, ::testing::ValuesIn(AllFilterCases()),
                         [](const auto& info) { return info.param.name; });

// Every registered filter has at least one case above.
TEST(FilterConformanceCoverage, EveryBuiltinFilterHasACase) {
  FilterRegistry registry;
  RegisterBuiltinFilters(registry);
  std::set<std::string> covered;
  for (const FilterCase& c : AllFilterCases()) covered.insert(c.config.at("id").get<std::string>());
  for (const std::string& id : registry.Ids()) EXPECT_TRUE(covered.contains(id)) << id;
  // The codec registry carries the same filters.
  CodecRegistry codecs;
  RegisterBuiltinCodecs(codecs);
  EXPECT_EQ(codecs.filters().Ids(), registry.Ids());
}

}  // namespace
}  // namespace batchd::pipeline
