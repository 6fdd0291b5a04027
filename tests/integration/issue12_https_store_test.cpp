// Issue 12, acceptance 1: https:// stores against nginx on loopback with certificates made by
// `openssl` in the test. With --ca-file naming the test CA, stats over https (by address and by
// name) equal the file store's of the same arrays; an expired certificate, one for another
// name and a self-signed one each end their session in a permanent error naming the host and
// the reason, after one attempt; without --ca-file the system's CAs do not trust the test CA.
#include <gtest/gtest.h>

#include <map>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/nginx_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/test_certificates.h"
#include "tests/support/zarr_arrays.h"

namespace batchd::testing {
namespace {

constexpr auto kBatchTimeout = std::chrono::seconds(180);

class HttpsStoreDaemonTest : public DaemonTest {
 protected:
  void SetUp() override {
    specs_ = {
        {root_.path() / "zstd", {"--shape", "70,45", "--chunks", "16,16", "--compressor", "zstd"}},
        {root_.path() / "v3", {"--shape", "33,65", "--chunks", "8,8", "--dtype", "int16"}, true},
    };
    ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> oracles, MakeArrays(specs_));
    ASSERT_OK_AND_ASSIGN(certs_, TestCertificates::Make());
    for (const auto& [name, pair] :
         std::map<std::string, TestCertificates::Pair>{{"valid", certs_->valid()},
                                                       {"expired", certs_->expired()},
                                                       {"wrong_host", certs_->wrong_host()},
                                                       {"self_signed", certs_->self_signed()}}) {
      NginxOptions options;
      options.document_root = root_.path();
      options.tls = NginxTls{.cert = pair.cert, .key = pair.key};
      ASSERT_OK_AND_ASSIGN(nginx_[name], NginxServer::Start(options));
    }
    ASSERT_NO_FATAL_FAILURE(StartDaemon(DaemonArgs(/*ca_file=*/true)));
  }

  std::vector<std::string> DaemonArgs(bool ca_file) {
    std::vector<std::string> args = {"--file-root", root_.path().string(), "--http-allow",
                                     "127.0.0.1",   "--http-allow",        "localhost"};
    if (ca_file) args.insert(args.end(), {"--ca-file", certs_->ca_cert().string()});
    return args;
  }

  static nlohmann::json StatsBatch(const std::vector<std::string>& urls) {
    return {{"name", "stats"},
            {"template", {{"op", "stats"}, {"source", {{"url", urls[0]}}}}},
            {"data", {{{{"field", "/source/url"}, {"items", urls}}}}}};
  }

  // Runs `batch` until it is `state` and returns each session by its /source/url value.
  std::map<std::string, nlohmann::json> SessionsByUrl(const nlohmann::json& batch,
                                                      const std::string& state) {
    std::map<std::string, nlohmann::json> out;
    Result<std::string> id = SubmitBatch(client(), batch);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return out;
    Result<nlohmann::json> done = WaitForBatchState(client(), *id, state, kBatchTimeout);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), *id);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    if (!ids.ok()) return out;
    for (int64_t sid : *ids) {
      Result<nlohmann::json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string(sid));
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      if (s.ok()) out[(*s)["values"]["/source/url"].get<std::string>()] = *s;
    }
    return out;
  }

  // The session failed at its first attempt, permanently, naming the host and the reason.
  static void ExpectRefused(const nlohmann::json& session, const std::string& host,
                            const std::string& reason) {
    EXPECT_EQ(session["state"], "error") << session.dump();
    EXPECT_EQ(session["attempts"], 1) << "not retried as transient: " << session.dump();
    EXPECT_EQ(session["error"]["kind"], "permanent") << session.dump();
    const std::string message = session["error"]["message"].get<std::string>();
    EXPECT_NE(message.find("TLS with " + host + " refused"), std::string::npos) << message;
    EXPECT_NE(message.find("certificate verify failed: " + reason), std::string::npos) << message;
  }

  std::string Url(const std::string& server, const std::string& array,
                  const std::string& host = "127.0.0.1") {
    return nginx_.at(server)->Url("/" + array, host);
  }

  TempDir root_;
  std::vector<ArraySpec> specs_;
  std::unique_ptr<TestCertificates> certs_;
  std::map<std::string, std::unique_ptr<NginxServer>> nginx_;
};

TEST_F(HttpsStoreDaemonTest, StatsOverHttpsEqualTheFileStores) {
  std::vector<std::string> file_urls, https_urls;
  for (const ArraySpec& s : specs_) {
    file_urls.push_back(FileUrl(s.path));
    https_urls.push_back(Url("valid", s.path.filename().string()));
    https_urls.push_back(Url("valid", s.path.filename().string(), "localhost"));
  }
  std::map<std::string, nlohmann::json> by_file = SessionsByUrl(StatsBatch(file_urls), "completed");
  std::map<std::string, nlohmann::json> by_https =
      SessionsByUrl(StatsBatch(https_urls), "completed");
  ASSERT_EQ(by_https.size(), https_urls.size());
  for (size_t i = 0; i < https_urls.size(); ++i) {
    SCOPED_TRACE(https_urls[i]);
    const nlohmann::json& file_result = by_file[file_urls[i / 2]]["result"];
    ASSERT_TRUE(file_result.is_object()) << by_file[file_urls[i / 2]].dump();
    EXPECT_EQ(by_https[https_urls[i]]["result"], file_result) << "exactly, to the last bit";
  }
}

TEST_F(HttpsStoreDaemonTest, BadCertificatesArePermanentErrorsNamingTheReason) {
  const std::string expired = Url("expired", "zstd", "localhost");
  const std::string wrong_name = Url("wrong_host", "zstd", "localhost");
  const std::string wrong_address = Url("wrong_host", "zstd");
  const std::string self_signed = Url("self_signed", "zstd", "localhost");
  std::map<std::string, nlohmann::json> sessions =
      SessionsByUrl(StatsBatch({expired, wrong_name, wrong_address, self_signed}), "failed");
  ASSERT_EQ(sessions.size(), 4u);
  ExpectRefused(sessions[expired], "localhost", "certificate has expired");
  ExpectRefused(sessions[wrong_name], "localhost", "hostname mismatch");
  ExpectRefused(sessions[wrong_address], "127.0.0.1", "IP address mismatch");
  ExpectRefused(sessions[self_signed], "localhost", "self-signed certificate");
}

TEST_F(HttpsStoreDaemonTest, WithoutCaFileTheSystemCasDoNotTrustThePrivateOne) {
  ASSERT_NO_FATAL_FAILURE(RestartDaemon(DaemonArgs(/*ca_file=*/false)));
  const std::string url = Url("valid", "zstd", "localhost");
  std::map<std::string, nlohmann::json> sessions = SessionsByUrl(StatsBatch({url}), "failed");
  ASSERT_EQ(sessions.size(), 1u);
  ExpectRefused(sessions[url], "localhost", "unable to get local issuer certificate");
  EXPECT_NE(sessions[url]["error"]["message"].get<std::string>().find("--ca-file"),
            std::string::npos);
}

}  // namespace
}  // namespace batchd::testing
