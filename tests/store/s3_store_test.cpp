// s3:// against a real S3-protocol server that verifies signatures (s3rver on loopback, objects
// put and listed by boto3) and a scripted loopback server for what s3rver will not do on demand
// (503 SlowDown, looking at the headers sent): round trips of awkward keys, byte ranges (read
// exactly, one signed Range request per merged read as s3rver's access log shows, past the end,
// of a missing key), missing keys and buckets, a wrong secret, anonymous requests, the
// allowlist and the error mapping.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "pipeline/stores/byte_ranges.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/s3/s3_store.h"
#include "tests/store/read_collector.h"
#include "tests/store/store_backends.h"
#include "tests/support/s3rver_server.h"
#include "tests/support/scripted_http_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

using pipeline::ByteRange;
using pipeline::Bytes;
using pipeline::ChunkStore;
using Reply = ScriptedHttpServer::Reply;
using Request = ScriptedHttpServer::Request;

Bytes AsBytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes Slice(const Bytes& value, size_t offset, size_t length) {
  return Bytes(value.begin() + static_cast<std::ptrdiff_t>(offset),
               value.begin() + static_cast<std::ptrdiff_t>(offset + length));
}

class S3StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = S3rverServer::Start({.buckets = {"data", "other"}});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // Store options and the s3:// settings that go with them.
  struct S3Config {
    pipeline::StoreOptions options;
    std::shared_ptr<const pipeline::S3Settings> s3;
  };

  S3Config Options(std::optional<pipeline::SigV4Credentials> keys, std::string endpoint = "") {
    S3Config config;
    config.options.http_retries = 2;
    config.options.http_retry_base_ms = 2;
    config.options.http_timeout_ms = 10'000;
    config.options.http_allowlist = AllowLoopbackPort();
    auto s3 = std::make_shared<pipeline::S3Settings>();
    s3->endpoint = endpoint.empty() ? server_->Endpoint() : endpoint;
    s3->credentials = std::move(keys);
    config.s3 = std::move(s3);
    return config;
  }

  pipeline::SigV4Credentials GoodKeys() const {
    return {server_->options().access_key_id, server_->options().secret_access_key, ""};
  }

  std::shared_ptr<ChunkStore> Open(const std::string& url, const S3Config& config) {
    registry_ = std::make_unique<pipeline::StoreRegistry>();
    pipeline::RegisterBuiltinStores(*registry_, config.options, config.s3);
    auto store = registry_->Open(url);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  // Puts `data` under bucket/key with boto3, the independent client.
  void PutWithBoto3(const std::string& bucket, const std::string& key, std::string_view data) {
    TempDir dir;
    std::ofstream(dir.path() / "f", std::ios::binary) << data;
    ASSERT_OK(RunS3Client(*server_, {"put", bucket, key, (dir.path() / "f").string()}));
  }

  // s3rver's access log lines of the GET requests whose URL starts with `url_prefix`, once there
  // are at least `count` of them (a line is written as its answer goes out, so it may come just
  // after the client saw it) or after a guard of 30 s.
  static std::vector<std::string> WaitForRequests(const std::string& url_prefix, size_t count) {
    std::vector<std::string> lines;
    for (int wait = 0; wait < 3000 && lines.size() < count; ++wait) {
      if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      lines.clear();
      std::ifstream log(server_->AccessLogPath());
      for (std::string method, url, status, range; log >> method >> url >> status >> range;) {
        if (method == "GET" && url.starts_with(url_prefix)) {
          lines.push_back(method + " " + url + " " + status + " " + range);
        }
      }
    }
    return lines;
  }

  static S3rverServer* server_;
  std::unique_ptr<pipeline::StoreRegistry> registry_;
};

S3rverServer* S3StoreTest::server_ = nullptr;

TEST_F(S3StoreTest, ReadsWhatBoto3PutUnderAwkwardKeys) {
  const std::vector<std::string> keys = {".zarray",
                                         "0.0",
                                         "c/0/1",
                                         "a b",
                                         "\xC3\xBC"
                                         "ber~x",
                                         "x+y=z",
                                         "it's (1)!",
                                         "100%",
                                         "\xE1\x88\xB4/\xF0\x9F\x98\x80"};
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_NO_FATAL_FAILURE(
        PutWithBoto3("data", "read/my array/" + keys[i], "value " + std::to_string(i)));
  }
  auto store = Open("s3://data/read/my%20array", Options(GoodKeys()));
  ASSERT_TRUE(store);
  ReadCollector reads(keys.size() + 1);
  std::vector<std::string> all = keys;
  all.push_back("never-written");
  store->GetMany(all, 4, nullptr, reads.Callback());
  ASSERT_TRUE(reads.WaitAll());
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& r = reads.result(i);
    ASSERT_TRUE(r.ok()) << keys[i] << ": " << r.status().ToString();
    ASSERT_TRUE(r->has_value()) << keys[i];
    EXPECT_EQ(**r, AsBytes("value " + std::to_string(i))) << keys[i];
  }
  const auto& missing = reads.result(keys.size());
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_FALSE(missing->has_value()) << "404 NoSuchKey reads as a missing chunk";
}

TEST_F(S3StoreTest, PutThenGetRoundTripsAndOverwrites) {
  auto store = Open("s3://data/put", Options(GoodKeys()));
  ASSERT_TRUE(store);
  const Bytes big = TestBytes(300'000, 7);
  ASSERT_OK(pipeline::WriteKey(*store, "c/0 0/~1", big));
  ASSERT_OK_AND_ASSIGN(auto back, pipeline::ReadKey(*store, "c/0 0/~1"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, big);
  ASSERT_OK(pipeline::WriteKey(*store, "c/0 0/~1", AsBytes("second")));
  ASSERT_OK_AND_ASSIGN(auto again, pipeline::ReadKey(*store, "c/0 0/~1"));
  EXPECT_EQ(again, AsBytes("second"));
  ASSERT_OK(pipeline::WriteKey(*store, "empty", Bytes()));
  ASSERT_OK_AND_ASSIGN(auto empty, pipeline::ReadKey(*store, "empty"));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST_F(S3StoreTest, GetRangesReadsOnlyTheRangesWithOneSignedRequestPerMergedRead) {
  auto store = Open("s3://data/ranges", Options(GoodKeys()));
  ASSERT_TRUE(store);
  const Bytes value = TestBytes(300'000, 11);
  ASSERT_OK(pipeline::WriteKey(*store, "shard/0", value));
  // Near ranges (merged into one read), a far one, one near the end, and the last bytes.
  const std::vector<ByteRange> ranges = {{.offset = 200'000, .length = 1000},
                                         {.offset = 10, .length = 90},
                                         ByteRange::Suffix(16),
                                         {.offset = 100, .length = 4000},
                                         {.offset = 299'999, .length = 1}};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::ReadRanges(*store, "shard/0", ranges));
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), ranges.size());
  EXPECT_EQ((*parts)[0], Slice(value, 200'000, 1000));
  EXPECT_EQ((*parts)[1], Slice(value, 10, 90));
  EXPECT_EQ((*parts)[2], Slice(value, value.size() - 16, 16));
  EXPECT_EQ((*parts)[3], Slice(value, 100, 4000));
  EXPECT_EQ((*parts)[4], Slice(value, 299'999, 1));
  // s3rver answered one 206 per merged read, each asked with its Range header: no whole GET.
  std::multiset<std::string> expected;
  for (const pipeline::RangeRead& read : pipeline::CoalesceRanges(ranges)) {
    expected.insert("GET /data/ranges/shard/0 206 " + pipeline::HttpRangeHeader(read.span));
  }
  ASSERT_EQ(expected.size(), 4u);
  const std::vector<std::string> seen = WaitForRequests("/data/ranges/shard/0", expected.size());
  EXPECT_EQ(std::multiset<std::string>(seen.begin(), seen.end()), expected);
}

TEST_F(S3StoreTest, GetRangesPastTheEndAreCorruptNamingTheKeyAndTheSize) {
  auto store = Open("s3://data/ranges", Options(GoodKeys()));
  ASSERT_TRUE(store);
  ASSERT_OK(pipeline::WriteKey(*store, "shard/1", TestBytes(300'000, 12)));
  // Runs past the end (s3rver clamps it: a short 206), starts past it (416 InvalidRange), the
  // last bytes of more than there are (s3rver, like S3, sends the whole object as a 206).
  for (const ByteRange& range :
       {ByteRange{.offset = 299'990, .length = 20}, ByteRange{.offset = 400'000, .length = 4},
        ByteRange::Suffix(300'001)}) {
    SCOPED_TRACE(pipeline::HttpRangeHeader(range));
    const std::vector<ByteRange> ranges = {{.offset = 0, .length = 4}, range};
    auto parts = pipeline::ReadRanges(*store, "shard/1", ranges);
    ASSERT_FALSE(parts.ok());
    EXPECT_EQ(parts.status().code(), StatusCode::kCorrupt) << parts.status().ToString();
    const std::string& m = parts.status().message();
    EXPECT_NE(m.find("key \"shard/1\" of s3://data/ranges"), std::string::npos) << m;
    if (range.offset != 400'000) {
      EXPECT_NE(m.find("past the end of its 300000 bytes"), std::string::npos) << m;
    }
  }
}

TEST_F(S3StoreTest, GetRangesOfAMissingKeyAreNulloptAndRefusalsArePermanent) {
  const std::vector<ByteRange> ranges = {ByteRange::Suffix(16), {.offset = 0, .length = 4}};
  auto store = Open("s3://data/ranges", Options(GoodKeys()));
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto missing, pipeline::ReadRanges(*store, "shard/never", ranges));
  EXPECT_FALSE(missing.has_value()) << "404 NoSuchKey reads as a missing shard";

  auto no_bucket = Open("s3://no-such-bucket/a", Options(GoodKeys()));
  ASSERT_TRUE(no_bucket);
  Status s = pipeline::ReadRanges(*no_bucket, "shard/0", ranges).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("NoSuchBucket"), std::string::npos) << s.message();

  const std::string wrong = "not-the-secret-4712";
  auto refused =
      Open("s3://data/ranges",
           Options(pipeline::SigV4Credentials{server_->options().access_key_id, wrong, ""}));
  ASSERT_TRUE(refused);
  s = pipeline::ReadRanges(*refused, "shard/0", ranges).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("GET s3://data/ranges/shard/0"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("403"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("SignatureDoesNotMatch"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(wrong), std::string::npos) << s.message();

  const std::vector<ByteRange> empty = {{.offset = 0, .length = 0}};
  EXPECT_EQ(pipeline::ReadRanges(*store, "shard/0", empty).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pipeline::ReadRanges(*store, "../x", ranges).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(S3StoreTest, AWrongSecretIsAPermanentErrorNamingKey403AndCodeButNotTheSecret) {
  const std::string wrong = "not-the-secret-4711";
  auto store = Open("s3://data/read", Options(pipeline::SigV4Credentials{
                                          server_->options().access_key_id, wrong, "tok-0815"}));
  ASSERT_TRUE(store);
  Result<std::optional<Bytes>> r = pipeline::ReadKey(*store, "0.0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("s3://data/read/0.0"), std::string::npos) << m;
  EXPECT_NE(m.find("403"), std::string::npos) << m;
  EXPECT_NE(m.find("SignatureDoesNotMatch"), std::string::npos) << m;
  EXPECT_EQ(m.find(wrong), std::string::npos) << m;
  EXPECT_EQ(m.find("tok-0815"), std::string::npos) << m;
  Status put = pipeline::WriteKey(*store, "x", AsBytes("x"));
  EXPECT_EQ(put.code(), StatusCode::kFailedPrecondition) << put.ToString();
  EXPECT_NE(put.message().find("PUT s3://data/read/x"), std::string::npos) << put.message();
}

TEST_F(S3StoreTest, AnUnknownAccessKeyNamesS3sCode) {
  auto store = Open("s3://data/read", Options(pipeline::SigV4Credentials{"NOSUCHKEY", "s", ""}));
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0.0").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("InvalidAccessKeyId"), std::string::npos) << s.message();
}

TEST_F(S3StoreTest, AMissingBucketIsAnErrorNotAnEmptyArray) {
  auto store = Open("s3://no-such-bucket/a", Options(GoodKeys()));
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, ".zarray").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("no-such-bucket"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("NoSuchBucket"), std::string::npos) << s.message();
}

TEST_F(S3StoreTest, AnonymousRequestsAreUnsigned) {
  ASSERT_NO_FATAL_FAILURE(PutWithBoto3("data", "public/.zattrs", "{}"));
  auto store = Open("s3://data/public", Options(std::nullopt));
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, ".zattrs"));
  EXPECT_EQ(value, AsBytes("{}"));
}

TEST_F(S3StoreTest, TheAllowlistAppliesToTheEndpoint) {
  S3Config config = Options(GoodKeys());
  config.options.http_allowlist = AllowLoopbackPort(server_->port() == 1 ? 2 : 1);  // another
  auto registry = std::make_unique<pipeline::StoreRegistry>();
  pipeline::RegisterBuiltinStores(*registry, config.options, config.s3);
  Status refused = registry->Open("s3://data/a").status();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.ToString();
  EXPECT_NE(refused.message().find("127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos)
      << refused.message();
  config.options.http_allowlist = nullptr;
  registry = std::make_unique<pipeline::StoreRegistry>();
  pipeline::RegisterBuiltinStores(*registry, config.options, config.s3);
  EXPECT_EQ(registry->Open("s3://data/a").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3StoreTest, BadUrlsAreRefusedNamingTheUrl) {
  auto registry = std::make_unique<pipeline::StoreRegistry>();
  S3Config config = Options(GoodKeys());
  pipeline::RegisterBuiltinStores(*registry, config.options, config.s3);
  for (const std::string url :
       {"s3://", "s3://ab/x", "s3://bucket:9000/x", "s3://bu%20cket/x", "s3://bucket/a/../b",
        "s3://bucket/a//b", "s3://user@bucket/x", "s3://bucket/x?versionId=1", "s3://bucket/%zz"}) {
    Status s = registry->Open(url).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url << ": " << s.ToString();
    EXPECT_NE(s.message().find(url), std::string::npos) << s.message();
  }
}

// What s3rver will not do on demand: a scripted server answering as S3 would.
TEST_F(S3StoreTest, SlowDownIsRetriedAsTransient) {
  std::atomic<int> requests{0};
  auto server = ScriptedHttpServer::Start([&](const Request&) {
    if (requests.fetch_add(1) < 2) {
      return Reply{.status = 503, .body = "<Error><Code>SlowDown</Code></Error>"};
    }
    return Reply{.status = 200, .body = "ok"};
  });
  ASSERT_TRUE(server.ok());
  auto store = Open("s3://bucket/p", Options(GoodKeys(), (*server)->Url("")));
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, "0"));
  EXPECT_EQ(value, AsBytes("ok"));
  EXPECT_EQ(requests.load(), 3);
}

TEST_F(S3StoreTest, SlowDownWithoutEndIsUnavailableNamingTheCode) {
  auto server = ScriptedHttpServer::Start([&](const Request&) {
    return Reply{.status = 503, .body = "<Error><Code>SlowDown</Code><Message>x</Message></Error>"};
  });
  ASSERT_TRUE(server.ok());
  auto store = Open("s3://bucket/p", Options(GoodKeys(), (*server)->Url("")));
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0").status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("503"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("SlowDown"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("s3://bucket/p/0"), std::string::npos) << s.message();
  Status put = pipeline::WriteKey(*store, "0", AsBytes("x"));
  EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
}

TEST_F(S3StoreTest, RangeRequestsSignTheRangeAndRetrySlowDown) {
  std::mutex mu;
  std::vector<std::string> seen;
  auto server = ScriptedHttpServer::Start([&](const Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(r.headers);
    if (seen.size() <= 2) {
      return Reply{.status = 503, .body = "<Error><Code>SlowDown</Code></Error>"};
    }
    return Reply{
        .status = 206, .body = "23456789", .extra_headers = "Content-Range: bytes 2-9/20\r\n"};
  });
  ASSERT_TRUE(server.ok());
  auto store = Open("s3://bucket/p", Options(GoodKeys(), (*server)->Url("")));
  ASSERT_TRUE(store);
  const std::vector<ByteRange> ranges = {{.offset = 6, .length = 4}, {.offset = 2, .length = 3}};
  ASSERT_OK_AND_ASSIGN(auto parts, pipeline::ReadRanges(*store, "s", ranges));
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ((*parts)[0], AsBytes("6789"));
  EXPECT_EQ((*parts)[1], AsBytes("234"));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 3u) << "two SlowDowns, then the one merged read";
  EXPECT_NE(seen[2].find("Range: bytes=2-9\r\n"), std::string::npos) << seen[2];
  EXPECT_NE(seen[2].find("SignedHeaders=host;range;"), std::string::npos) << seen[2];
}

TEST_F(S3StoreTest, RangeRequestsAnsweredSlowDownForeverAreUnavailable) {
  auto server = ScriptedHttpServer::Start([&](const Request&) {
    return Reply{.status = 503, .body = "<Error><Code>SlowDown</Code></Error>"};
  });
  ASSERT_TRUE(server.ok());
  auto store = Open("s3://bucket/p", Options(GoodKeys(), (*server)->Url("")));
  ASSERT_TRUE(store);
  const std::vector<ByteRange> ranges = {ByteRange::Suffix(16)};
  Status s = pipeline::ReadRanges(*store, "c/0", ranges).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("SlowDown"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("s3://bucket/p/c/0"), std::string::npos) << s.message();
}

TEST_F(S3StoreTest, RequestsCarryTheSignatureHeadersPathStyle) {
  std::mutex mu;
  std::vector<Request> seen;
  auto server = ScriptedHttpServer::Start([&](const Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(r);
    return Reply{.status = 200, .body = "v"};
  });
  ASSERT_TRUE(server.ok());
  const std::string secret = "scripted-secret-value";
  auto store = Open(
      "s3://bucket/my%20prefix",
      Options(pipeline::SigV4Credentials{"AKIDTEST", secret, "session-tok"}, (*server)->Url("")));
  ASSERT_TRUE(store);
  ASSERT_OK(pipeline::ReadKey(*store, "c/~0 1").status());
  ASSERT_OK(pipeline::WriteKey(*store, "k", AsBytes("body")));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/bucket/my%20prefix/c/~0%201");
  EXPECT_EQ(seen[1].method, "PUT");
  for (const Request& r : seen) {
    EXPECT_NE(r.headers.find("Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
              std::string::npos)
        << r.headers;
    EXPECT_NE(r.headers.find("x-amz-security-token: session-tok"), std::string::npos);
    EXPECT_NE(r.headers.find("x-amz-date: "), std::string::npos);
    EXPECT_EQ(r.headers.find(secret), std::string::npos);
  }
  EXPECT_NE(seen[1].headers.find("x-amz-content-sha256: " +
                                 pipeline::Sha256Hex(std::string_view("body"))),
            std::string::npos)
      << seen[1].headers;
}

TEST_F(S3StoreTest, AnonymousRequestsCarryNoSignatureHeaders) {
  std::mutex mu;
  std::string headers;
  auto server = ScriptedHttpServer::Start([&](const Request& r) {
    std::lock_guard<std::mutex> lock(mu);
    headers = r.headers;
    return Reply{.status = 403, .body = "<Error><Code>AccessDenied</Code></Error>"};
  });
  ASSERT_TRUE(server.ok());
  auto store = Open("s3://bucket/p", Options(std::nullopt, (*server)->Url("")));
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("AccessDenied"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("anonymous"), std::string::npos) << s.message();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(headers.find("Authorization"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("x-amz-"), std::string::npos) << headers;
}

TEST_F(S3StoreTest, AnErrorCodeThatIsNotAPlainWordIsLeftOut) {
  auto server = ScriptedHttpServer::Start([&](const Request&) {
    return Reply{.status = 400, .body = "<Error><Code>bad <script></Code></Error>"};
  });
  ASSERT_TRUE(server.ok());
  auto store = Open("s3://bucket/p", Options(GoodKeys(), (*server)->Url("")));
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("400"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("script"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace batchd::testing
