// Issue 10, item 5 (outbound reach, SSRF): http:// sources and sinks could name any host and
// port, the daemon's own API included (a raw-format transcode copied GET /api/v1/sessions/1 into
// a file). Now only hosts listed with --http-allow are reachable, nothing by default; the
// daemon's own address never is, even when listed; a refused URL is a 422 at submit naming its
// place in the batch, and a stored batch that became refused fails at run time naming the host
// and the flag. The matcher itself: unit/pipeline/http_allowlist_test.cpp; the store and client
// checks: store/issue10_http_outbound_test.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/nginx_server.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr auto kBatchTimeout = std::chrono::seconds(120);

// A port nothing listens on right now.
uint16_t FreePort() {
  Result<uint16_t> port = PickFreePort();
  EXPECT_TRUE(port.ok()) << port.status().ToString();
  return port.ok() ? *port : 0;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

class OutboundAllowlistTest : public DaemonTest {
 protected:
  void SetUp() override {
    // A zarr v2 array of four int32 values 1, 2, 3, 4 in one uncompressed chunk, under nginx.
    WriteFile(root_.path() / "a" / ".zarray",
              R"({"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<i4",
                  "compressor": null, "fill_value": 0, "order": "C", "filters": null})");
    WriteFile(root_.path() / "a" / "0", std::string("\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0", 16));
    NginxOptions options;
    options.document_root = root_.path();
    ASSERT_OK_AND_ASSIGN(nginx_, NginxServer::Start(options));
  }

  void ResumeQueue() {
    Result<HttpResponse> r = client().Post("/api/v1/queue/resume", "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->Describe();
  }

  std::string NginxPort() const { return std::to_string(nginx_->port()); }
  std::string FileRoot() const { return root_.path().string(); }

  HttpResponse PostBatch(const json& batch) {
    Result<HttpResponse> r = client().Post("/api/v1/batches", batch.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResponse{};
  }

  static json Stats(const std::string& url) {
    return {{"name", "stats"}, {"template", {{"op", "stats"}, {"source", {{"url", url}}}}}};
  }

  size_t BatchCount() {
    Result<json> list = GetJson(client(), "/api/v1/batches");
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? (*list)["items"].size() : 0;
  }

  // The one session of batch `id`, once it has ended.
  json OnlySession(const std::string& id) {
    Result<std::vector<int64_t>> ids = SessionIdsOf(client(), id);
    EXPECT_TRUE(ids.ok() && ids->size() == 1) << ids.status().ToString();
    if (!ids.ok() || ids->empty()) return json();
    Result<json> s = GetJson(client(), "/api/v1/sessions/" + std::to_string(ids->front()));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : json();
  }

  TempDir root_;
  std::unique_ptr<NginxServer> nginx_;
};

TEST_F(OutboundAllowlistTest, WithoutHttpAllowEveryHttpUrlIsA422AtSubmitNamingItsPlace) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", FileRoot()}));
  const std::string http = nginx_->Url("/a");
  const std::string file = "file://" + FileRoot() + "/a";

  HttpResponse source = PostBatch(Stats(http));
  EXPECT_TRUE(IsApiError(source, 422, "invalid_batch", "/template/source/url"));
  EXPECT_NE(source.body.find("not in the outbound allowlist"), std::string::npos) << source.body;
  EXPECT_NE(source.body.find("--http-allow"), std::string::npos) << source.body;

  json items = Stats(file);
  items["data"] = {{{{"field", "/source/url"}, {"items", {file, http}}}}};
  EXPECT_TRUE(IsApiError(PostBatch(items), 422, "invalid_batch", "/data/0/0/items/1"));

  const json transcode = {{"name", "t"},
                          {"template",
                           {{"op", "transcode"},
                            {"source", {{"url", file}}},
                            {"sink", {{"url", nginx_->Url("/out")}}}}}};
  EXPECT_TRUE(IsApiError(PostBatch(transcode), 422, "invalid_batch", "/template/sink/url"));
  EXPECT_EQ(BatchCount(), 0u) << "nothing stored";
  EXPECT_FALSE(fs::exists(root_.path() / "out"));
}

TEST_F(OutboundAllowlistTest, AListedHostAndPortWorksEndToEndAndNothingElseDoes) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--http-allow", "127.0.0.1:" + NginxPort()}));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), Stats(nginx_->Url("/a"))));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", kBatchTimeout));
  const json session = OnlySession(id);
  EXPECT_EQ(session["result"]["count"], 4) << session.dump();
  EXPECT_EQ(session["result"]["sum"], 10.0) << session.dump();

  const std::string other_port = std::to_string(nginx_->port() == 65535 ? 1 : nginx_->port() + 1);
  for (const std::string& url :
       {"http://127.0.0.1:" + other_port + "/a", "http://localhost:" + NginxPort() + "/a",
        std::string("http://192.0.2.1/a")}) {
    HttpResponse r = PostBatch(Stats(url));
    EXPECT_TRUE(IsApiError(r, 422, "invalid_batch", "/template/source/url")) << url;
    EXPECT_NE(r.body.find("--http-allow 127.0.0.1:" + NginxPort()), std::string::npos) << r.body;
  }
  EXPECT_EQ(BatchCount(), 1u);
}

// The reported attack: a raw-format transcode whose source is the daemon's own API, chunk "1"
// being GET /api/v1/sessions/1, and whose sink is a file the attacker reads. Every spelling of
// the daemon's address is refused, though the allowlist lists loopback at every port.
TEST_F(OutboundAllowlistTest, TheDaemonsOwnApiIsRefusedEvenWhenLoopbackIsListed) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--http-allow", "127.0.0.1", "--http-allow", "localhost",
                                       "--http-allow", "[::1]", "--file-root", FileRoot()}));
  ASSERT_OK_AND_ASSIGN(std::string victim, SubmitBatch(client(), SleepBatch("victim", 1, 0)));
  const std::string port = std::to_string(daemon().port());
  for (const std::string& host : {"127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "127.0.0.2",
                                  "127.1", "2130706433", "0.0.0.0", "[::ffff:127.0.0.1]"}) {
    const json attack = {{"name", "copy the API"},
                         {"template",
                          {{"op", "transcode"},
                           {"source",
                            {{"url", "http://" + host + ":" + port + "/api/v1/sessions"},
                             {"format", "raw"},
                             {"shape", {512}},
                             {"chunks", {256}},
                             {"dtype", "|u1"}}},
                           {"region", {{1, 2}}},
                           {"sink", {{"url", "file://" + FileRoot() + "/stolen"}}}}}};
    HttpResponse r = PostBatch(attack);
    EXPECT_TRUE(IsApiError(r, 422, "invalid_batch", "/template/source/url")) << host;
    EXPECT_NE(r.body.find("the daemon's own API endpoint"), std::string::npos) << r.body;
  }
  EXPECT_EQ(BatchCount(), 1u) << "only the victim";
  EXPECT_FALSE(fs::exists(root_.path() / "stolen"));
  // The same entries reach another server on loopback: the refusal is the own endpoint's.
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), Stats(nginx_->Url("/a"))));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", kBatchTimeout));
}

// Defence in depth: a batch accepted under one configuration and run under another is checked
// again when its session runs, and fails for good naming the host and the flag.
TEST_F(OutboundAllowlistTest, AStoredBatchThatBecameRefusedFailsAtRunTimeNamingHostAndFlag) {
  const std::string listed = "127.0.0.1:" + NginxPort();
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--http-allow", listed}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), Stats(nginx_->Url("/a"))));
  ASSERT_NO_FATAL_FAILURE(RestartDaemon({}));  // no --http-allow now; the queue stays paused
  ASSERT_NO_FATAL_FAILURE(ResumeQueue());
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "failed", kBatchTimeout));
  const json session = OnlySession(id);
  EXPECT_EQ(session["error"]["kind"], "permanent") << session.dump();
  const std::string message = session["error"]["message"].get<std::string>();
  EXPECT_NE(message.find(listed + " is not in the outbound allowlist"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--http-allow"), std::string::npos) << message;
}

// A URL that named no daemon when it was accepted, and names this one now that it listens there.
TEST_F(OutboundAllowlistTest, AStoredUrlThatBecameTheDaemonsOwnAddressFailsAtRunTime) {
  const uint16_t future_port = FreePort();
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--http-allow", "127.0.0.1"}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  const std::string url = "http://127.0.0.1:" + std::to_string(future_port) + "/a";
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), Stats(url)));
  ASSERT_NO_FATAL_FAILURE(RestartDaemon(
      {"--http-allow", "127.0.0.1", "--listen", "127.0.0.1:" + std::to_string(future_port)}));
  ASSERT_EQ(daemon().port(), future_port);
  ASSERT_NO_FATAL_FAILURE(ResumeQueue());
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "failed", kBatchTimeout));
  const json session = OnlySession(id);
  EXPECT_EQ(session["error"]["kind"], "permanent") << session.dump();
  EXPECT_NE(session["error"]["message"].get<std::string>().find("the daemon's own API endpoint"),
            std::string::npos)
      << session.dump();
}

TEST(OutboundAllowlistStartTest, ABadEntryStopsTheDaemonAtStartNamingIt) {
  TempDir data;
  for (const std::vector<std::string>& given :
       {std::vector<std::string>{"--http-allow", "ok.example", "--http-allow", "*"},
        std::vector<std::string>{"--http-allow", "http://nginx.example/"},
        std::vector<std::string>{"--http-allow", "h:0"}}) {
    std::vector<std::string> argv = {BATCHD_BINARY, "serve",      "--listen",
                                     "127.0.0.1:0", "--data-dir", data.path().string()};
    argv.insert(argv.end(), given.begin(), given.end());
    ASSERT_OK_AND_ASSIGN(CommandOutput run, RunCommand(argv, std::chrono::seconds(60)));
    EXPECT_EQ(run.exit_code, 2) << given.back() << ": " << run.out << run.err;
    EXPECT_NE(run.err.find("--http-allow entry '" + given.back() + "'"), std::string::npos)
        << run.err;
  }
  EXPECT_FALSE(fs::exists(data.path() / "batchd.port")) << "it never listened";
}

}  // namespace
}  // namespace batchd::testing
