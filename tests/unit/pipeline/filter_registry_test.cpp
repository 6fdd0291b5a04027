// The filter registry's refusals (filter.h): an unknown id, a config that is not an object, a
// missing or malformed member, a member the filter does not have, a dtype whose elements the
// chain does not give, and each dtype/astype pair numpy would not compute exactly: each is
// kInvalidArgument naming the filter and the member.
#include <gtest/gtest.h>

#include "pipeline/filters/filter.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

class FilterRegistryTest : public ::testing::Test {
 protected:
  FilterRegistryTest() { RegisterBuiltinFilters(registry_); }

  // The refusal of `config` for an array of `dtype` with chunks `shape`.
  Status Refusal(const nlohmann::json& config, const char* dtype = "<f8",
                 std::vector<int64_t> shape = {10}) {
    auto made = registry_.Create(
        config, {.dtype = *DataType::FromNumpy(dtype), .chunk_shape = std::move(shape)});
    EXPECT_FALSE(made.ok()) << config.dump();
    return made.ok() ? Status::Ok() : made.status();
  }

  void ExpectRefused(const nlohmann::json& config, const std::string& prefix,
                     const std::string& fragment, const std::string& path,
                     const char* dtype = "<f8", std::vector<int64_t> shape = {10}) {
    const Status s = Refusal(config, dtype, std::move(shape));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << s.ToString();
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.ToString();
    EXPECT_EQ(s.path(), path) << s.ToString();
  }

  FilterRegistry registry_;
};

TEST_F(FilterRegistryTest, KnowsExactlyTheBuiltins) {
  EXPECT_EQ(registry_.Ids(), (std::vector<std::string>{"delta", "fixedscaleoffset", "transpose"}));
}

TEST_F(FilterRegistryTest, UnknownIdIsRefusedListingTheKnownOnes) {
  ExpectRefused({{"id", "quantize"}, {"digits", 3}, {"dtype", "<f8"}},
                "unknown filter \"quantize\"", "known: delta, fixedscaleoffset, transpose", "/id");
}

TEST_F(FilterRegistryTest, ConfigsThatAreNotObjectsOrLackAStringIdAreRefused) {
  EXPECT_EQ(Refusal(nlohmann::json::array()).code(), StatusCode::kInvalidArgument);
  ExpectRefused({{"dtype", "<f8"}}, "filter config has no \"id\"", "", "/id");
  ExpectRefused({{"id", 3}}, "filter \"id\" must be a string", "", "/id");
}

TEST_F(FilterRegistryTest, MissingAndMalformedMembersAreRefusedNamingThem) {
  ExpectRefused({{"id", "delta"}}, "delta: \"dtype\" is missing", "numpy dtype", "/dtype");
  ExpectRefused({{"id", "delta"}, {"dtype", 8}}, "delta: \"dtype\" must be a string", "", "/dtype");
  ExpectRefused({{"id", "delta"}, {"dtype", "<c16"}}, "delta: \"dtype\"", "unsupported dtype",
                "/dtype");
  ExpectRefused({{"id", "delta"}, {"dtype", "<f8"}, {"astype", "|b1"}}, "delta: \"astype\"",
                "unsupported dtype", "/astype");
  ExpectRefused({{"id", "delta"}, {"dtype", "<f8"}, {"typo", 1}}, "delta: \"typo\"",
                "is not an option", "/typo");
  ExpectRefused({{"id", "fixedscaleoffset"}, {"offset", 0}, {"dtype", "<f8"}},
                "fixedscaleoffset: \"scale\" is missing", "", "/scale");
  ExpectRefused({{"id", "fixedscaleoffset"}, {"scale", 10}, {"dtype", "<f8"}},
                "fixedscaleoffset: \"offset\" is missing", "", "/offset");
  ExpectRefused({{"id", "fixedscaleoffset"}, {"scale", "10"}, {"offset", 0}, {"dtype", "<f8"}},
                "fixedscaleoffset: \"scale\" must be a number", "", "/scale");
  ExpectRefused({{"id", "fixedscaleoffset"}, {"scale", 0}, {"offset", 0}, {"dtype", "<f8"}},
                "fixedscaleoffset: \"scale\" must not be 0", "", "/scale");
  ExpectRefused({{"id", "fixedscaleoffset"}, {"scale", 10}, {"offset", 0}},
                "fixedscaleoffset: \"dtype\" is missing", "", "/dtype");
  ExpectRefused({{"id", "transpose"}}, "transpose: \"order\" is missing", "", "/order");
  ExpectRefused({{"id", "transpose"}, {"order", {0, 0}}}, "transpose: \"order\"",
                "permutation of 0..2", "/order", "<f8", {3, 4});
  ExpectRefused({{"id", "transpose"}, {"order", {1, 0}}}, "transpose: \"order\"",
                "the chunk has 3 dimensions", "/order", "<f8", {3, 4, 5});
  ExpectRefused({{"id", "transpose"}, {"order", "F"}}, "transpose: \"order\"", "got \"F\"",
                "/order", "<f8", {3, 4});
}

TEST_F(FilterRegistryTest, ADtypeOfAnotherElementSizeThanTheChainGivesIsRefused) {
  ExpectRefused({{"id", "delta"}, {"dtype", "<i4"}}, "delta: \"dtype\"",
                "<i4 has 4-byte elements but the chain gives it 8-byte elements (<f8)", "/dtype");
  ExpectRefused({{"id", "fixedscaleoffset"}, {"scale", 1}, {"offset", 0}, {"dtype", "<f4"}},
                "fixedscaleoffset: \"dtype\"", "4-byte elements", "/dtype", "<i2");
}

TEST_F(FilterRegistryTest, PairsNumpyDoesNotComputeExactlyAreRefusedByName) {
  ExpectRefused({{"id", "delta"}, {"dtype", "<f8"}, {"astype", "<i8"}}, "delta: \"astype\"",
                "dtype <f8 with astype <i8 mixes integers and floats", "/astype");
  ExpectRefused({{"id", "delta"}, {"dtype", "<i4"}, {"astype", "<f4"}}, "delta: \"astype\"",
                "mixes integers and floats", "/astype", "<i4");
  ExpectRefused({{"id", "delta"}, {"dtype", "<i8"}, {"astype", "<u8"}}, "delta: \"astype\"",
                "float64", "/astype", "<i8");
  ExpectRefused({{"id", "delta"}, {"dtype", "<u8"}, {"astype", "<i2"}}, "delta: \"astype\"",
                "float64", "/astype", "<u8");
  ExpectRefused({{"id", "delta"}, {"dtype", "<f4"}, {"astype", "<f8"}}, "delta: \"astype\"",
                "dtype <f4 with astype <f8", "/astype", "<f4");
  ExpectRefused({{"id", "fixedscaleoffset"},
                 {"scale", 1e300},
                 {"offset", 0},
                 {"dtype", "<f4"},
                 {"astype", "<f4"}},
                "fixedscaleoffset: \"scale\"", "beyond float32", "/scale", "<f4");
}

TEST_F(FilterRegistryTest, AcceptedPairsAndTheirTypes) {
  auto make = [&](const nlohmann::json& config, const char* dtype) {
    return registry_.Create(config, {.dtype = *DataType::FromNumpy(dtype), .chunk_shape = {4}});
  };
  ASSERT_OK_AND_ASSIGN(auto delta, make({{"id", "delta"}, {"dtype", "<i4"}}, "<i4"));
  EXPECT_EQ(delta->EncodedType().ToNumpy(), "<i4");  // astype defaults to dtype
  EXPECT_EQ(delta->ToJson(),
            nlohmann::json({{"id", "delta"}, {"dtype", "<i4"}, {"astype", "<i4"}}));
  ASSERT_OK_AND_ASSIGN(auto fso, make({{"id", "fixedscaleoffset"},
                                       {"scale", 10},
                                       {"offset", 1000.5},
                                       {"dtype", "<f8"},
                                       {"astype", "|u1"}},
                                      "<f8"));
  EXPECT_EQ(fso->EncodedType().ToNumpy(), "|u1");
  EXPECT_EQ(fso->ToJson()["offset"], 1000.5);
  // numcodecs views the chain's elements as its own dtype: same size, another type, is fine.
  EXPECT_TRUE(make({{"id", "delta"}, {"dtype", "<u4"}}, ">i4").ok());
}

TEST_F(FilterRegistryTest, FixedScaleOffsetNamesAValueItsDtypeCannotHold) {
  ASSERT_OK_AND_ASSIGN(
      auto fso, registry_.Create({{"id", "fixedscaleoffset"},
                                  {"scale", 0.001},
                                  {"offset", 0},
                                  {"dtype", "<i2"},
                                  {"astype", "<i2"}},
                                 {.dtype = *DataType::FromNumpy("<i2"), .chunk_shape = {2}}));
  const int16_t stored[2] = {1, 100};  // 1000 fits int16, 100000 does not
  Bytes out(4);
  const Status s =
      fso->DecodeInto(ByteView(reinterpret_cast<const uint8_t*>(stored), sizeof(stored)), out);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("fixedscaleoffset: element 1 decodes to 100000"), std::string::npos)
      << s.ToString();
}

}  // namespace
}  // namespace batchd::pipeline
