#include "core/registry.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace batchd {
namespace {

TEST(RegistryTest, FindsWhatWasRegisteredAndNothingElse) {
  Registry<int> registry;
  EXPECT_EQ(registry.Find("a"), nullptr);
  registry.Register("b", 2);
  registry.Register("a", 1);
  ASSERT_NE(registry.Find("a"), nullptr);
  EXPECT_EQ(*registry.Find("a"), 1);
  EXPECT_EQ(*registry.Find("b"), 2);
  EXPECT_EQ(registry.Find("c"), nullptr);
  EXPECT_EQ(registry.Find(""), nullptr);
  EXPECT_EQ(registry.Find("A"), nullptr);  // names are exact
}

TEST(RegistryTest, RegisteringANameAgainReplacesItsEntry) {
  Registry<std::unique_ptr<std::string>> registry;
  registry.Register("x", std::make_unique<std::string>("first"));
  registry.Register("x", std::make_unique<std::string>("second"));
  EXPECT_EQ(**registry.Find("x"), "second");
  EXPECT_EQ(registry.Names(), std::vector<std::string>{"x"});
}

TEST(RegistryTest, NamesAreSortedForMessages) {
  Registry<int> registry;
  EXPECT_EQ(registry.KnownNames(), "none");
  EXPECT_TRUE(registry.Names().empty());
  registry.Register("zstd", 0);
  registry.Register("lz4", 0);
  registry.Register("blosc", 0);
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"blosc", "lz4", "zstd"}));
  EXPECT_EQ(registry.KnownNames(), "blosc, lz4, zstd");
}

}  // namespace
}  // namespace batchd
