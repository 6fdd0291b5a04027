// The CLI's parsing of --server URLs and of the daemon's error answers (cli/daemon_client.h,
// cli/command_context.h). Talking to a real daemon is tested in integration/cli_test.cpp.
#include <gtest/gtest.h>

#include "cli/command_context.h"
#include "cli/daemon_client.h"

namespace batchd::cli {
namespace {

TEST(ServerUrlTest, AcceptsHostPortAndPrefix) {
  Result<ServerAddress> a = ParseServerUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "8080");
  EXPECT_EQ(a->base_path, "");
  Result<ServerAddress> b = ParseServerUrl("http://batchd.internal/prefix/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, "80");
  EXPECT_EQ(b->base_path, "/prefix");
  EXPECT_EQ(b->ToString(), "http://batchd.internal:80/prefix");
  Result<ServerAddress> v6 = ParseServerUrl("http://[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "9000");
}

TEST(ServerUrlTest, RefusesWhatItCannotUseAndSaysWhy) {
  for (const char* bad : {"127.0.0.1:8080", "https://x:1", "ftp://x", "http://", "http://:80",
                          "http://x:0", "http://x:99999", "http://x:8o", "http://[::1:80"}) {
    Result<ServerAddress> r = ParseServerUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().path(), "--server");
  }
  EXPECT_NE(ParseServerUrl("https://x:1").status().message().find("https is not supported"),
            std::string::npos);
}

TEST(ErrorBodyTest, NamesCodePathAndStatus) {
  EXPECT_EQ(
      DescribeErrorBody(
          422,
          R"({"error": {"code": "invalid_batch", "message": "field \"/y\" does not exist", "path": "/data/0/0/field"}})"),
      "invalid_batch at /data/0/0/field: field \"/y\" does not exist (HTTP 422)");
  EXPECT_EQ(DescribeErrorBody(
                404, R"({"error": {"code": "not_found", "message": "no batch", "path": ""}})"),
            "not_found: no batch (HTTP 404)");
  EXPECT_EQ(DescribeErrorBody(502, "Bad Gateway"), "Bad Gateway (HTTP 502)");
  EXPECT_EQ(DescribeErrorBody(500, ""), "no details (HTTP 500)");
}

}  // namespace
}  // namespace batchd::cli
