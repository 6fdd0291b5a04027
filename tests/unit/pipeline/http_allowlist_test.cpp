// Issue 10, item 5 (outbound reach): the --http-allow matcher. Exact names, ports, *.domain,
// IPv4 and bracketed IPv6, case, the daemon's own endpoint (refused whatever is listed, in every
// spelling of loopback), and entries refused at start. Against a real daemon:
// integration/issue10_outbound_allowlist_test.cpp.
#include "pipeline/stores/http_allowlist.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>

namespace batchd::pipeline {
namespace {

std::shared_ptr<HttpAllowlist> Make(const std::vector<std::string>& entries) {
  Result<std::shared_ptr<HttpAllowlist>> made = HttpAllowlist::Create(entries);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? *made : nullptr;
}

// Checks `host`:`port` against `list` and says whether it passed, for EXPECT_TRUE/FALSE.
bool Allows(const HttpAllowlist& list, std::string_view host, uint16_t port) {
  return list.CheckHost(host, port).ok();
}

TEST(HttpAllowlistTest, NothingIsAllowedByDefault) {
  std::shared_ptr<HttpAllowlist> none = Make({});
  ASSERT_TRUE(none);
  for (const char* host : {"example.org", "127.0.0.1", "localhost", "::1", "10.0.0.1"}) {
    Status s = none->CheckHost(host, 80);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << host;
    EXPECT_NE(s.message().find("--http-allow HOST[:PORT]"), std::string::npos) << s.message();
  }
  EXPECT_EQ(none->CheckHost("::1", 9000).message().rfind("[::1]:9000 is not in", 0), 0u)
      << none->CheckHost("::1", 9000).message();
}

TEST(HttpAllowlistTest, AHostWithoutPortAllowsEveryPortOfThatHostOnly) {
  std::shared_ptr<HttpAllowlist> list = Make({"Data.Example.org"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(Allows(*list, "data.example.org", 80));
  EXPECT_TRUE(Allows(*list, "data.example.org", 9000));
  EXPECT_TRUE(Allows(*list, "DATA.EXAMPLE.ORG", 443)) << "names compare without case";
  EXPECT_TRUE(Allows(*list, "data.example.org.", 80)) << "a trailing dot names the same host";
  for (const char* other : {"x.data.example.org", "example.org", "data.example.org.evil",
                            "data-example.org", "data.example.or"}) {
    Status s = list->CheckHost(other, 80);
    EXPECT_FALSE(s.ok()) << other;
    EXPECT_NE(s.message().find("(--http-allow Data.Example.org)"), std::string::npos)
        << s.message();
  }
}

TEST(HttpAllowlistTest, APortAllowsOnlyThatPort) {
  std::shared_ptr<HttpAllowlist> list = Make({"data.example.org:9000", "other.example.org:80"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(Allows(*list, "data.example.org", 9000));
  EXPECT_FALSE(Allows(*list, "data.example.org", 80));
  EXPECT_FALSE(Allows(*list, "data.example.org", 9001));
  EXPECT_TRUE(Allows(*list, "other.example.org", 80));
  EXPECT_FALSE(Allows(*list, "other.example.org", 9000));
}

TEST(HttpAllowlistTest, AWildcardAllowsSubdomainsButNotTheDomainItself) {
  std::shared_ptr<HttpAllowlist> list = Make({"*.example.org", "*.Store.Test:9000"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(Allows(*list, "a.example.org", 80));
  EXPECT_TRUE(Allows(*list, "a.b.example.org", 8080));
  EXPECT_TRUE(Allows(*list, "A.EXAMPLE.ORG", 80));
  EXPECT_FALSE(Allows(*list, "example.org", 80)) << "*.domain is its subdomains only";
  EXPECT_FALSE(Allows(*list, "badexample.org", 80));
  EXPECT_FALSE(Allows(*list, "a.example.org.evil", 80));
  EXPECT_TRUE(Allows(*list, "x.store.test", 9000));
  EXPECT_FALSE(Allows(*list, "x.store.test", 80));
}

TEST(HttpAllowlistTest, AddressesCompareByValueAsTheResolverReadsThem) {
  std::shared_ptr<HttpAllowlist> list = Make({"10.0.0.5:9000", "[2001:DB8::1]:9000"});
  ASSERT_TRUE(list);
  for (const char* same : {"10.0.0.5", "10.5", "167772165", "0x0a.0.0.5", "::ffff:10.0.0.5"}) {
    EXPECT_TRUE(Allows(*list, same, 9000)) << same;
  }
  EXPECT_FALSE(Allows(*list, "10.0.0.5", 80));
  EXPECT_FALSE(Allows(*list, "10.0.0.6", 9000));
  EXPECT_TRUE(Allows(*list, "2001:db8:0:0::1", 9000));
  EXPECT_FALSE(Allows(*list, "2001:db8::1", 80));
  EXPECT_FALSE(Allows(*list, "2001:db8::2", 9000));
}

TEST(HttpAllowlistTest, TheDaemonsOwnEndpointIsRefusedWhateverIsListed) {
  std::shared_ptr<HttpAllowlist> list =
      Make({"127.0.0.1", "localhost", "[::1]", "*.localhost", "0.0.0.0", "[::]", "127.0.0.2"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(Allows(*list, "127.0.0.1", 8080)) << "before SetOwnEndpoint nothing is own";
  list->SetOwnEndpoint("127.0.0.1", 8080);
  for (const char* own :
       {"127.0.0.1", "localhost", "LocalHost.", "api.localhost", "::1", "127.0.0.2", "127.1",
        "2130706433", "0x7f.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "::1%lo"}) {
    Status s = list->CheckHost(own, 8080);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << own;
    EXPECT_NE(s.message().find("the daemon's own API endpoint"), std::string::npos)
        << own << ": " << s.message();
  }
  EXPECT_TRUE(Allows(*list, "127.0.0.1", 8081)) << "another port of a listed host";
  EXPECT_TRUE(Allows(*list, "localhost", 9000));

  // A daemon on a specific address: that address with its port, and loopback with its port.
  std::shared_ptr<HttpAllowlist> lan = Make({"10.1.2.3", "127.0.0.1"});
  ASSERT_TRUE(lan);
  lan->SetOwnEndpoint("10.1.2.3", 8080);
  EXPECT_FALSE(Allows(*lan, "10.1.2.3", 8080));
  EXPECT_FALSE(Allows(*lan, "127.0.0.1", 8080));
  EXPECT_TRUE(Allows(*lan, "10.1.2.3", 8081));
}

TEST(HttpAllowlistTest, AWildcardListenAddressMakesEveryInterfaceAddressOwn) {
  std::vector<std::string> addresses;
  ifaddrs* interfaces = nullptr;
  ASSERT_EQ(::getifaddrs(&interfaces), 0);
  for (ifaddrs* a = interfaces; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                sizeof text);
    addresses.push_back(text);
  }
  ::freeifaddrs(interfaces);
  ASSERT_FALSE(addresses.empty()) << "no IPv4 interface, not even lo";
  std::vector<std::string> entries = addresses;
  entries.push_back("192.0.2.77");  // TEST-NET-1: on no interface here
  std::shared_ptr<HttpAllowlist> list = Make(entries);
  ASSERT_TRUE(list);
  list->SetOwnEndpoint("0.0.0.0", 8080);
  for (const std::string& address : addresses) {
    EXPECT_FALSE(Allows(*list, address, 8080)) << address;
    EXPECT_TRUE(Allows(*list, address, 8081)) << address;
  }
  EXPECT_TRUE(Allows(*list, "192.0.2.77", 8080)) << "not an address of this machine";
}

TEST(HttpAllowlistTest, WhileTheOwnPortIsPendingTheOwnHostIsRefusedForNow) {
  std::shared_ptr<HttpAllowlist> list = Make({"127.0.0.1", "10.0.0.9"});
  ASSERT_TRUE(list);
  list->SetOwnEndpoint("127.0.0.1", 0);  // --listen 127.0.0.1:0, not bound yet
  EXPECT_EQ(list->CheckHost("127.0.0.1", 9000).code(), StatusCode::kUnavailable);
  EXPECT_EQ(list->CheckAddress("127.0.0.1", 9000).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Allows(*list, "10.0.0.9", 9000));
  list->SetOwnEndpoint("127.0.0.1", 8080);
  EXPECT_TRUE(Allows(*list, "127.0.0.1", 9000));
  EXPECT_FALSE(Allows(*list, "127.0.0.1", 8080));
}

TEST(HttpAllowlistTest, ResolvedAddressesAreCheckedAgainstTheOwnEndpointOnly) {
  std::shared_ptr<HttpAllowlist> list = Make({"data.example.org"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->CheckAddress("127.0.0.1", 8080).ok()) << "no own endpoint yet";
  list->SetOwnEndpoint("127.0.0.1", 8080);
  for (const char* own : {"127.0.0.1", "::1", "127.0.1.1", "::ffff:127.0.0.1", "0.0.0.0"}) {
    Status s = list->CheckAddress(own, 8080);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << own;
    EXPECT_NE(s.message().find("own API endpoint"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(list->CheckAddress("127.0.0.1", 9000).ok());
  // What a listed name resolves to is the name's owner's business, but for the daemon itself.
  EXPECT_TRUE(list->CheckAddress("192.0.2.1", 8080).ok());
}

TEST(HttpAllowlistTest, BadEntriesAreRefusedNamingThem) {
  const struct {
    const char* entry;
    const char* why;
  } cases[] = {
      {"", "has no host"},
      {":9000", "has no host"},
      {"*", "would allow every host"},
      {"*.", "would allow every host"},
      {"*:80", "would allow every host"},
      {"a*.example.org", "'*'"},
      {"*.*.example.org", "'*'"},
      {"example.*", "'*'"},
      {"h:0", "port 0"},
      {"h:99999", "invalid port"},
      {"h:", "empty port"},
      {"::1", "without brackets"},
      {"[::1", "unterminated"},
      {"[example.org]:80", "not an IPv6 address"},
      {"a..b", "empty label"},
      {".example.org", "empty label"},
      {"a b", "not HOST[:PORT]"},
      {"http://example.org", "not HOST[:PORT]"},
      {"example.org/path", "not HOST[:PORT]"},
      {"user@example.org", "not HOST[:PORT]"},
      {"exa$mple.org", "character"},
      {"*.10.0.0.1", "wildcard before an address"},
  };
  for (const auto& c : cases) {
    Result<std::shared_ptr<HttpAllowlist>> made = HttpAllowlist::Create({"ok.example", c.entry});
    ASSERT_FALSE(made.ok()) << "'" << c.entry << "'";
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(made.status().path(), "--http-allow");
    EXPECT_NE(made.status().message().find("--http-allow entry '" + std::string(c.entry) + "'"),
              std::string::npos)
        << made.status().message();
    EXPECT_NE(made.status().message().find(c.why), std::string::npos)
        << c.entry << ": " << made.status().message();
  }
  EXPECT_TRUE(
      HttpAllowlist::Create({"example.org.", "x_y.example", "[::1]:1", "10.0.0.1:65535"}).ok());
}

}  // namespace
}  // namespace batchd::pipeline
