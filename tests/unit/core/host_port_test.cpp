// The one HOST[:PORT] parser (core/host_port.h) behind store URLs, --listen, --http-allow and
// Host headers: what splits, and what is refused with a reason.
#include "core/host_port.h"

#include <gtest/gtest.h>

namespace batchd {
namespace {

TEST(HostPortTest, SplitsNamesAddressesAndBracketedIpv6) {
  const struct {
    const char* text;
    const char* host;
    std::optional<uint16_t> port;
  } cases[] = {
      {"example.org", "example.org", std::nullopt},
      {"Example.ORG:9000", "Example.ORG", 9000},
      {"127.0.0.1:0", "127.0.0.1", 0},
      {"127.0.0.1:65535", "127.0.0.1", 65535},
      {"[::1]", "::1", std::nullopt},
      {"[::1]:8080", "::1", 8080},
      {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
      {"", "", std::nullopt},
      {":80", "", 80},
  };
  for (const auto& c : cases) {
    Result<HostPort> split = ParseHostPort(c.text);
    ASSERT_TRUE(split.ok()) << c.text << ": " << split.status().ToString();
    EXPECT_EQ(split->host, c.host) << c.text;
    EXPECT_EQ(split->port, c.port) << c.text;
  }
}

TEST(HostPortTest, RefusesMalformedTextSayingWhy) {
  const struct {
    const char* text;
    const char* why;
  } cases[] = {
      {"[::1", "unterminated IPv6"},
      {"[::1]8080", "junk after its IPv6"},
      {"::1", "without brackets"},
      {"::1:8080", "without brackets"},
      {"h:", "empty port"},
      {"[::1]:", "empty port"},
      {"h:65536", "invalid port \"65536\""},
      {"h:12ab", "invalid port"},
      {"h:-1", "invalid port"},
      {"h: 80", "invalid port"},
  };
  for (const auto& c : cases) {
    Result<HostPort> split = ParseHostPort(c.text);
    ASSERT_FALSE(split.ok()) << c.text;
    EXPECT_EQ(split.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(split.status().message().find(c.why), std::string::npos)
        << c.text << ": " << split.status().message();
  }
}

TEST(HostPortTest, FormatsIpv6InBrackets) {
  EXPECT_EQ(FormatHostPort("::1", 9000), "[::1]:9000");
  EXPECT_EQ(FormatHostPort("example.org", 80), "example.org:80");
  EXPECT_EQ(AsciiLower("LocalHost.Example"), "localhost.example");
}

}  // namespace
}  // namespace batchd
