// https:// specifics, against nginx over TLS with certificates made by `openssl` for the test:
// a chain of a private CA (--ca-file) works by IP address and by name; an expired certificate,
// one for another name, a self-signed one, and any of them without --ca-file (the system's CAs)
// each end the request at once (no retries) with kFailedPrecondition naming the host and the
// reason; SNI picks nginx's certificate; keep-alive connections are pooled and survive a
// restart; a plain-http server behind an https URL; the allowlist and the default port 443;
// a bad CA file.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_client.h"
#include "tests/store/store_backends.h"
#include "tests/support/nginx_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

namespace batchd::testing {
namespace {

using pipeline::Bytes;
using pipeline::ChunkStore;

// How nginx logs (error_log info) a handshake the client ended with an alert: one line per
// attempt. (NginxServer's own probe at start, a connect and close, logs "client closed
// connection while SSL handshaking" instead.)
constexpr std::string_view kHandshakeFailed = "SSL_do_handshake() failed";

class HttpsStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto made = TestCertificates::Make();
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    certs_ = std::move(*made).release();
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  // Retries on, so that a certificate failure retried by mistake shows in nginx's log.
  static pipeline::StoreOptions Options(bool with_ca_file = true) {
    pipeline::StoreOptions options;
    options.http_retries = 3;
    options.http_retry_base_ms = 2;
    options.http_timeout_ms = 10'000;
    options.http_allowlist = AllowLoopbackAndLocalhost();
    if (with_ca_file) options.http_ca_file = certs_->ca_cert().string();
    return options;
  }

  static std::shared_ptr<const pipeline::HttpAllowlist> AllowLoopbackAndLocalhost() {
    auto allowlist = pipeline::HttpAllowlist::Create({"127.0.0.1", "localhost"});
    EXPECT_TRUE(allowlist.ok()) << allowlist.status().ToString();
    return allowlist.ok() ? *allowlist : nullptr;
  }

  std::unique_ptr<NginxServer> StartNginx(const TestCertificates::Pair& pair,
                                          NginxOptions options = {}) {
    options.document_root = root_.path();
    options.error_log_level = "info";
    NginxTls tls = options.tls.value_or(NginxTls{});
    tls.cert = pair.cert;
    tls.key = pair.key;
    options.tls = tls;
    auto server = NginxServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(*server) : nullptr;
  }

  std::shared_ptr<ChunkStore> Open(const std::string& url,
                                   const pipeline::StoreOptions& options = Options()) {
    registry_ = std::make_unique<pipeline::StoreRegistry>();
    pipeline::RegisterBuiltinStores(*registry_, options);
    auto store = registry_->Open(url);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  // Reads "0.0" through an https store on `url` and expects a permanent refusal naming the
  // host and `reason`, after exactly one handshake.
  void ExpectRefused(NginxServer& nginx, const std::string& url, const std::string& host,
                     const std::string& reason, const pipeline::StoreOptions& options = Options()) {
    SCOPED_TRACE(url + " -> " + reason);
    auto store = Open(url, options);
    ASSERT_TRUE(store);
    Status s = pipeline::ReadKey(*store, "0.0").status();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("GET " + url + "/0.0"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("TLS with " + host + " refused"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("certificate verify failed: " + reason), std::string::npos)
        << s.message();
    // nginx writes its log line when the connection ends; the client closed it before
    // answering, so the line is there (or about to be) when the read returns.
    for (int i = 0; i < 2000 && nginx.CountErrorLogLines(kHandshakeFailed) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // for a retry's, if any
    EXPECT_EQ(nginx.CountErrorLogLines(kHandshakeFailed), 1) << "one handshake, no retries:\n"
                                                             << nginx.ErrorLogTail();
  }

  static TestCertificates* certs_;
  TempDir root_;
  std::unique_ptr<pipeline::StoreRegistry> registry_;
};

TestCertificates* HttpsStoreTest::certs_ = nullptr;

TEST_F(HttpsStoreTest, AChainOfThePrivateCaWorksByAddressAndByName) {
  auto nginx = StartNginx(certs_->valid());
  ASSERT_TRUE(nginx);
  WriteFileForTest(root_.path() / "arr/0.0", TestBytes(5000, 7));
  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    auto store = Open(nginx->Url("/arr", host));
    ASSERT_TRUE(store);
    ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, "0.0"));
    ASSERT_TRUE(value.has_value());
    EXPECT_EQ(*value, TestBytes(5000, 7));
    ASSERT_OK_AND_ASSIGN(auto missing, pipeline::ReadKey(*store, "9.9"));
    EXPECT_FALSE(missing.has_value());
    ASSERT_OK(pipeline::WriteKey(*store, std::string("w/") + host, TestBytes(300, 3)));
    std::ifstream written(root_.path() / "arr/w" / host, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
    EXPECT_EQ(Bytes(bytes.begin(), bytes.end()), TestBytes(300, 3));
  }
  EXPECT_EQ(nginx->CountErrorLogLines(kHandshakeFailed), 0) << nginx->ErrorLogTail();
}

TEST_F(HttpsStoreTest, BadCertificatesAreRefusedForGoodNamingTheReason) {
  struct Case {
    const TestCertificates::Pair& pair;
    std::string host;
    std::string reason;
  };
  for (const Case& c : {Case{certs_->expired(), "localhost", "certificate has expired"},
                        Case{certs_->wrong_host(), "localhost", "hostname mismatch"},
                        Case{certs_->wrong_host(), "127.0.0.1", "IP address mismatch"},
                        Case{certs_->self_signed(), "localhost", "self-signed certificate"}}) {
    auto nginx = StartNginx(c.pair);
    ASSERT_TRUE(nginx);
    ExpectRefused(*nginx, nginx->Url("/arr", c.host), c.host, c.reason);
  }
}

TEST_F(HttpsStoreTest, WithoutTheCaFileThePrivateCaIsNotTrusted) {
  auto nginx = StartNginx(certs_->valid());
  ASSERT_TRUE(nginx);
  const std::string url = nginx->Url("/arr", "localhost");
  ExpectRefused(*nginx, url, "localhost", "unable to get local issuer certificate",
                Options(/*with_ca_file=*/false));
  auto store = Open(url, Options(false));
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0.0").status();
  EXPECT_NE(s.message().find("the system's CA certificates; a private CA needs --ca-file"),
            std::string::npos)
      << s.message();
}

TEST_F(HttpsStoreTest, SniPicksTheCertificateForTheName) {
  // nginx presents the wrong-name certificate to everyone but a client that says "localhost"
  // by SNI: the valid one there.
  NginxOptions options;
  options.tls = NginxTls{
      .sni_name = "localhost", .sni_cert = certs_->valid().cert, .sni_key = certs_->valid().key};
  auto nginx = StartNginx(certs_->wrong_host(), options);
  ASSERT_TRUE(nginx);
  WriteFileForTest(root_.path() / "arr/0.0", TestBytes(10, 1));
  auto store = Open(nginx->Url("/arr", "localhost"));
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, "0.0"));
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, TestBytes(10, 1));
  // No SNI for an address: the default certificate, which does not name 127.0.0.1.
  ExpectRefused(*nginx, nginx->Url("/arr", "127.0.0.1"), "127.0.0.1", "IP address mismatch");
}

TEST_F(HttpsStoreTest, ConnectionsArePooledPerHost) {
  NginxOptions options;
  options.access_log = true;
  options.log_connection = true;
  auto nginx = StartNginx(certs_->valid(), options);
  ASSERT_TRUE(nginx);
  std::vector<std::string> keys = SeedNumberedKeys(root_.path() / "arr", 200, 100);
  auto store = Open(nginx->Url("/arr"));
  ASSERT_TRUE(store);
  ASSERT_NO_FATAL_FAILURE(ExpectNumberedKeysRead(*store, keys, 8, 100));
  // nginx logs a request just after sending its answer: wait for the last lines.
  std::set<std::string> connections;
  int requests = 0;
  for (int wait = 0; wait < 2000 && requests < 200; ++wait) {
    if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream log(nginx->AccessLogPath());
    connections.clear();
    requests = 0;
    for (std::string method, uri, status, connection;
         log >> method >> uri >> status >> connection;) {
      ++requests;
      connections.insert(connection);
    }
  }
  EXPECT_EQ(requests, 200);
  EXPECT_LE(connections.size(), 8u) << "8 in flight: at most 8 TLS connections, reused";
}

TEST_F(HttpsStoreTest, PooledConnectionsSurviveAServerRestart) {
  auto nginx = StartNginx(certs_->valid());
  ASSERT_TRUE(nginx);
  std::vector<std::string> keys = SeedNumberedKeys(root_.path() / "arr", 32, 50);
  // No retries: a pooled connection the server closed must be replaced without using one.
  pipeline::StoreOptions options = Options();
  options.http_retries = 0;
  auto store = Open(nginx->Url("/arr"), options);
  ASSERT_TRUE(store);
  ASSERT_NO_FATAL_FAILURE(ExpectNumberedKeysRead(*store, keys, 8, 50));
  ASSERT_OK(nginx->Restart());  // closes every pooled TLS connection
  ASSERT_NO_FATAL_FAILURE(ExpectNumberedKeysRead(*store, keys, 8, 50));
}

TEST_F(HttpsStoreTest, APlainHttpServerBehindAnHttpsUrlIsRefusedOnce) {
  // nginx answers the ClientHello with a plain-text 400, which is no TLS record.
  NginxOptions options;
  options.document_root = root_.path();
  options.access_log = true;
  auto nginx = NginxServer::Start(options);
  ASSERT_TRUE(nginx.ok()) << nginx.status().ToString();
  const std::string url = "https://127.0.0.1:" + std::to_string((*nginx)->port()) + "/arr";
  auto store = Open(url);
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0.0").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("TLS with 127.0.0.1 refused: TLS handshake failed"), std::string::npos)
      << s.message();
  // nginx logs each answer just after sending it: wait for the first line, then a moment for
  // any of a retry's (all were sent before the read returned).
  auto answers = [&] {
    std::ifstream log((*nginx)->AccessLogPath());
    int count = 0;
    for (std::string line; std::getline(log, line);) count += line.find("400") != std::string::npos;
    return count;
  };
  for (int i = 0; i < 2000 && answers() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(answers(), 1) << "not retried";
}

TEST_F(HttpsStoreTest, TheAllowlistAppliesWithPort443ByDefault) {
  auto allow = [](const std::string& entry) {
    pipeline::StoreOptions options = Options();
    auto allowlist = pipeline::HttpAllowlist::Create({entry});
    EXPECT_TRUE(allowlist.ok());
    options.http_allowlist = *allowlist;
    return options;
  };
  pipeline::StoreRegistry on_443;
  pipeline::RegisterBuiltinStores(on_443, allow("data.example:443"));
  ASSERT_OK(on_443.Open("https://data.example/a.zarr").status());
  ASSERT_OK(on_443.Open("https://data.example:443/a.zarr").status());
  Status http = on_443.Open("http://data.example/a.zarr").status();  // port 80
  EXPECT_EQ(http.code(), StatusCode::kInvalidArgument) << http.ToString();

  pipeline::StoreRegistry on_80;
  pipeline::RegisterBuiltinStores(on_80, allow("data.example:80"));
  Status https = on_80.Open("https://data.example/a.zarr").status();
  EXPECT_EQ(https.code(), StatusCode::kInvalidArgument) << https.ToString();
  EXPECT_NE(https.message().find("https://data.example/a.zarr"), std::string::npos);
  EXPECT_NE(https.message().find("not in the outbound allowlist"), std::string::npos)
      << https.message();
  for (const std::string url : {"https:///no-host", "https://h/a?q=1", "https://u@h/a"}) {
    EXPECT_EQ(on_80.Open(url).status().code(), StatusCode::kInvalidArgument) << url;
  }
}

TEST_F(HttpsStoreTest, ABadCaFileIsRefusedNamingIt) {
  TempDir dir;
  const std::string empty = (dir.path() / "empty.pem").string();
  const std::string junk = (dir.path() / "junk.pem").string();
  std::ofstream(empty).close();
  std::ofstream(junk) << "not a certificate\n";
  for (const std::string& path : {empty, junk, (dir.path() / "missing.pem").string()}) {
    Status checked = pipeline::CheckCaFile(path);
    EXPECT_EQ(checked.code(), StatusCode::kInvalidArgument) << path;
    EXPECT_NE(checked.message().find(path), std::string::npos) << checked.message();
  }
  ASSERT_OK(pipeline::CheckCaFile(certs_->ca_cert().string()));

  // A client given one anyway answers every https request with the reason, and http as usual.
  pipeline::StoreOptions options = Options();
  options.http_ca_file = junk;
  auto store = Open("https://127.0.0.1:1/arr", options);
  ASSERT_TRUE(store);
  Status s = pipeline::ReadKey(*store, "0.0").status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(junk), std::string::npos) << s.message();
}

}  // namespace
}  // namespace batchd::testing
