// The codec registry: ids, numcodecs' defaults, and configs it refuses with kInvalidArgument
// naming the member (message and JSON Pointer).
#include <gtest/gtest.h>

#include "pipeline/codecs/codec.h"
#include "tests/support/status_assertions.h"

namespace batchd::pipeline {
namespace {

class CodecRegistryTest : public ::testing::Test {
 protected:
  CodecRegistryTest() { RegisterBuiltinCodecs(registry_); }

  Status CreateStatus(const nlohmann::json& config, CodecContext context = {}) const {
    return registry_.Create(config, context).status();
  }

  CodecRegistry registry_;
};

TEST_F(CodecRegistryTest, KnowsExactlyTheBuiltins) {
  EXPECT_EQ(registry_.Ids(), (std::vector<std::string>{"blosc", "bz2", "crc32c", "gzip", "lz4",
                                                       "raw", "zlib", "zstd"}));
}

TEST_F(CodecRegistryTest, FillsInNumcodecsDefaults) {
  const std::vector<std::pair<std::string, nlohmann::json>> expected = {
      {"raw", {{"id", "raw"}}},
      {"lz4", {{"id", "lz4"}, {"acceleration", 1}}},
      {"zstd", {{"id", "zstd"}, {"level", 1}, {"checksum", false}}},
      {"blosc",
       {{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 1}, {"blocksize", 0}}},
      {"zlib", {{"id", "zlib"}, {"level", 1}}},
      {"gzip", {{"id", "gzip"}, {"level", 1}}},
      {"bz2", {{"id", "bz2"}, {"level", 1}}},
  };
  for (const auto& [id, json] : expected) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<const Codec> codec, registry_.Create({{"id", id}}, {}));
    EXPECT_EQ(codec->ToJson(), json) << id;
  }
}

TEST_F(CodecRegistryTest, UnknownIdIsRefusedListingTheKnownOnes) {
  Status status = CreateStatus({{"id", "snappy"}});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "unknown codec \"snappy\" (known: blosc, bz2, crc32c, gzip, lz4, raw, zlib, zstd)");
  EXPECT_EQ(status.path(), "/id");
}

TEST_F(CodecRegistryTest, ConfigWithoutAStringIdOrNotAnObjectIsRefused) {
  for (const nlohmann::json& config :
       {nlohmann::json::object(), nlohmann::json{{"id", 3}}, nlohmann::json{{"id", nullptr}},
        nlohmann::json("zstd"), nlohmann::json::array({"zstd"}), nlohmann::json()}) {
    Status status = CreateStatus(config);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << config.dump();
    EXPECT_FALSE(status.message().empty());
  }
  EXPECT_EQ(CreateStatus(nlohmann::json::object()).path(), "/id");
}

TEST_F(CodecRegistryTest, ZeroElementSizeIsRefused) {
  Status status = CreateStatus({{"id", "blosc"}}, {.element_size = 0});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "blosc: element size must be at least 1 byte");
}

struct BadConfig {
  nlohmann::json config;
  std::string path;
  std::string message;
};

TEST_F(CodecRegistryTest, BadConfigsAreRefusedNamingTheMember) {
  const std::vector<BadConfig> cases = {
      {{{"id", "blosc"}, {"cname", "brotli"}},
       "/cname",
       "blosc: \"cname\" \"brotli\" is not a compressor libblosc"},
      {{{"id", "blosc"}, {"cname", 4}}, "/cname", "blosc: \"cname\" must be a string, got number"},
      {{{"id", "blosc"}, {"clevel", 12}},
       "/clevel",
       "blosc: \"clevel\" must be between 0 and 9, got 12"},
      {{{"id", "blosc"}, {"clevel", -1}},
       "/clevel",
       "blosc: \"clevel\" must be between 0 and 9, got -1"},
      {{{"id", "blosc"}, {"shuffle", 7}},
       "/shuffle",
       "blosc: \"shuffle\" must be between -1 and 2, got 7"},
      {{{"id", "blosc"}, {"shuffle", "bit"}},
       "/shuffle",
       "blosc: \"shuffle\" must be an integer, got string"},
      {{{"id", "blosc"}, {"blocksize", -1}},
       "/blocksize",
       "blosc: \"blocksize\" must be between 0 and"},
      {{{"id", "blosc"}, {"clevl", 5}},
       "/clevl",
       "blosc: \"clevl\" is not an option of this codec"},
      {{{"id", "zstd"}, {"level", "3"}},
       "/level",
       "zstd: \"level\" must be an integer, got string"},
      {{{"id", "zstd"}, {"level", 3.5}},
       "/level",
       "zstd: \"level\" must be an integer, got number"},
      {{{"id", "zstd"}, {"level", 23}}, "/level", "zstd: \"level\" must be between"},
      {{{"id", "zstd"}, {"level", uint64_t{1} << 63}}, "/level", "zstd: \"level\" must be between"},
      {{{"id", "zstd"}, {"checksum", 1}},
       "/checksum",
       "zstd: \"checksum\" must be true or false, got number"},
      {{{"id", "lz4"}, {"acceleration", "fast"}},
       "/acceleration",
       "lz4: \"acceleration\" must be an integer, got string"},
      {{{"id", "lz4"}, {"acceleration", int64_t{1} << 40}},
       "/acceleration",
       "lz4: \"acceleration\" must be between"},
      {{{"id", "raw"}, {"level", 1}}, "/level", "raw: \"level\" is not an option of this codec"},
  };
  for (const BadConfig& c : cases) {
    Status status = CreateStatus(c.config, {.element_size = 4});
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.config.dump();
    EXPECT_EQ(status.path(), c.path) << c.config.dump();
    EXPECT_EQ(status.message().rfind(c.message, 0), 0u)
        << c.config.dump() << " gave " << status.message();
  }
}

TEST_F(CodecRegistryTest, UnknownCnameMessageListsWhatThisLibraryHas) {
  Status status = CreateStatus({{"id", "blosc"}, {"cname", "brotli"}});
  EXPECT_NE(status.message().find("lz4"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("zstd"), std::string::npos) << status.message();
}

TEST_F(CodecRegistryTest, EdgeValuesOfEachRangeAreAccepted) {
  for (const nlohmann::json& config :
       {nlohmann::json{{"id", "blosc"}, {"clevel", 0}, {"shuffle", -1}},
        nlohmann::json{{"id", "blosc"}, {"clevel", 9}, {"shuffle", 2}, {"cname", "zlib"}},
        nlohmann::json{{"id", "zstd"}, {"level", 22}}, nlohmann::json{{"id", "zstd"}, {"level", 0}},
        nlohmann::json{{"id", "zstd"}, {"level", -7}},
        nlohmann::json{{"id", "lz4"}, {"acceleration", 0}},
        nlohmann::json{{"id", "lz4"}, {"acceleration", 65537}}}) {
    Status status = CreateStatus(config);
    EXPECT_TRUE(status.ok()) << config.dump() << ": " << status.ToString();
  }
}

// A codec registered by a later module replaces nothing it should not, and Create calls it.
TEST_F(CodecRegistryTest, RegisterAddsOrReplacesAFactory) {
  int calls = 0;
  registry_.Register("raw",
                     [&calls](const nlohmann::json& config,
                              const CodecContext& context) -> Result<std::unique_ptr<const Codec>> {
                       ++calls;
                       return Status::Internal("from the test factory");
                     });
  EXPECT_EQ(CreateStatus({{"id", "raw"}}).message(), "from the test factory");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(registry_.Ids().size(), 8u);
}

TEST_F(CodecRegistryTest, AFactoryThatThrowsGivesInternalNotAnException) {
  registry_.Register(
      "throwing",
      [](const nlohmann::json&, const CodecContext&) -> Result<std::unique_ptr<const Codec>> {
        throw std::runtime_error("boom");
      });
  Status status = CreateStatus({{"id", "throwing"}});
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_EQ(status.message(), "throwing: creating the codec failed: boom");
}

}  // namespace
}  // namespace batchd::pipeline
