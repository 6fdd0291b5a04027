// Store URLs and keys: what parses, what is refused with a message naming it, and the
// percent-encoding round trip. No I/O.
#include <gtest/gtest.h>

#include "pipeline/stores/store_key.h"
#include "pipeline/stores/store_url.h"

namespace batchd::pipeline {
namespace {

TEST(StoreUrlTest, SplitsHttpUrls) {
  Result<StoreUrl> url = ParseStoreUrl("HTTP://example.org:9000/a.zarr/t2m");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "example.org");
  EXPECT_EQ(url->port, 9000);
  EXPECT_EQ(url->path, "/a.zarr/t2m");

  Result<StoreUrl> bare = ParseStoreUrl("http://127.0.0.1");
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->host, "127.0.0.1");
  EXPECT_EQ(bare->port, 0);
  EXPECT_EQ(bare->path, "");

  Result<StoreUrl> v6 = ParseStoreUrl("http://[::1]:8080/x");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
}

TEST(StoreUrlTest, KeepsFilePathsEncodedUntilDecoded) {
  Result<StoreUrl> url = ParseStoreUrl("file:///data/my%20array.zarr");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "file");
  EXPECT_EQ(url->host, "");
  EXPECT_EQ(url->path, "/data/my%20array.zarr");
  Result<std::string> decoded = PercentDecode(url->path);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "/data/my array.zarr");
}

TEST(StoreUrlTest, RefusesMalformedUrlsNamingThem) {
  const struct {
    const char* url;
    const char* why;
  } cases[] = {
      {"no-scheme", "has no scheme"},
      {"file:/data/a", "must have the form"},
      {"file:data", "must have the form"},
      {"http://h/a?x=1", "query"},
      {"http://h/a#frag", "fragment"},
      {"http://user:pw@h/a", "user info"},
      {"http://h:0/a", "invalid port"},
      {"http://h:65536/a", "invalid port"},
      {"http://h:12ab/a", "invalid port"},
      {"http://h:/a", "empty port"},
      {"http://[::1/a", "IPv6"},
      {"http://h/a b", "must be percent-encoded"},
      {"http://h/a%zz", "malformed percent escape"},
      {"http://h/a%4", "malformed percent escape"},
      {"file:///a%00b", "%00"},
      {"1http://h/", "has no scheme"},
  };
  for (const auto& c : cases) {
    Result<StoreUrl> url = ParseStoreUrl(c.url);
    ASSERT_FALSE(url.ok()) << c.url;
    EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_NE(url.status().message().find(c.url), std::string::npos) << url.status().message();
    EXPECT_NE(url.status().message().find(c.why), std::string::npos) << url.status().message();
  }
}

TEST(StoreUrlTest, SchemeAloneIsLowerCased) {
  Result<std::string> scheme = ParseUrlScheme("S3://bucket/x");
  ASSERT_TRUE(scheme.ok());
  EXPECT_EQ(*scheme, "s3");
  EXPECT_FALSE(ParseUrlScheme(":x").ok());
  EXPECT_FALSE(ParseUrlScheme("ht tp://x").ok());
}

TEST(StoreUrlTest, PercentEncodingKeepsSlashesAndUnreservedCharacters) {
  std::string out = "/arr/";
  AppendPercentEncoded("c/0/0", out);
  EXPECT_EQ(out, "/arr/c/0/0");
  out.clear();
  AppendPercentEncoded("a b/\xC3\xBC%.zarray~_-", out);
  EXPECT_EQ(out, "a%20b/%C3%BC%25.zarray~_-");
  Result<std::string> back = PercentDecode(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "a b/\xC3\xBC%.zarray~_-");
}

TEST(StoreKeyTest, AcceptsRelativePaths) {
  for (const char* key :
       {".zarray", "zarr.json", "0.0", "0/1/2", "c/0/0", "a..b", "...", "x.y/z"}) {
    EXPECT_TRUE(ValidateStoreKey(key).ok()) << key;
  }
}

TEST(StoreKeyTest, RefusesEscapesAndEmptyComponentsNamingTheKey) {
  const struct {
    std::string key;
    const char* why;
  } cases[] = {
      {"", "empty"},
      {"/x", "must be relative"},
      {"../x", "\"..\" path component"},
      {"a/..", "\"..\" path component"},
      {"a/./b", "\".\" path component"},
      {".", "\".\" path component"},
      {"a//b", "empty path component"},
      {"a/", "empty path component"},
      {std::string("a\0b", 3), "NUL"},
  };
  for (const auto& c : cases) {
    Status status = ValidateStoreKey(c.key);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.key;
    EXPECT_NE(status.message().find(c.why), std::string::npos) << status.message();
    if (!c.key.empty() && c.key.find('\0') == std::string::npos) {
      EXPECT_NE(status.message().find("\"" + c.key + "\""), std::string::npos) << status.message();
    }
  }
}

}  // namespace
}  // namespace batchd::pipeline
