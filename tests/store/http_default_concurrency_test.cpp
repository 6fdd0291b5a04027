// Issue 12: a job over an http(s):// source that sets no limits.fetch_concurrency ran 64 reads
// in flight (the daemon's default), which overflowed `python3 -m http.server`'s listen backlog
// (27.9 s for a 2.5 MB array). Now Prepare gives it the store's default (8,
// --http-default-in-flight) unless the job asks for more (or the daemon's default is lower),
// and file:// keeps the daemon's.
#include <gtest/gtest.h>

#include <fstream>

#include "core/worker_pool.h"
#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/formats/array_format.h"
#include "pipeline/ops/chunk_op.h"
#include "tests/store/store_backends.h"
#include "tests/support/nginx_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

constexpr const char* kZarray = R"({"zarr_format": 2, "shape": [64], "chunks": [8],
    "dtype": "<f4", "compressor": null, "fill_value": 0, "order": "C", "filters": null})";

class HttpDefaultConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "a");
    std::ofstream(dir_.path() / "a/.zarray") << kZarray;
    NginxOptions options;
    options.document_root = dir_.path();
    auto nginx = NginxServer::Start(options);
    ASSERT_TRUE(nginx.ok()) << nginx.status().ToString();
    nginx_ = std::move(*nginx);
    pipeline::RegisterBuiltinCodecs(codecs_);
    pipeline::RegisterBuiltinFormats(formats_, codecs_);
  }

  // The limits Prepare resolved for a stats job on `url`, the daemon's default being 64.
  Result<nlohmann::json> PreparedLimits(const std::string& url, const nlohmann::json& limits,
                                        int http_default_in_flight = 8, int daemon_default = 64) {
    pipeline::StoreRegistry stores;
    pipeline::RegisterBuiltinStores(stores, {.file_roots = {dir_.path()},
                                             .http_default_in_flight = http_default_in_flight,
                                             .http_allowlist = AllowLoopbackPort(nginx_->port())});
    const pipeline::ChunkServices services{
        .stores = stores,
        .formats = formats_,
        .codecs = codecs_,
        .decode = decode_,
        .defaults = {.fetch_concurrency = daemon_default, .bytes_in_flight = 1 << 20}};
    pipeline::OpRegistry ops;
    pipeline::RegisterChunkOps(ops, services);
    nlohmann::json job = {{"op", "stats"}, {"source", {{"url", url}}}};
    if (!limits.is_null()) job["limits"] = limits;
    ASSIGN_OR_RETURN(nlohmann::json prepared, ops.Find("stats")->Prepare(job));
    return prepared.at("limits");
  }

  TempDir dir_;
  std::unique_ptr<NginxServer> nginx_;
  pipeline::CodecRegistry codecs_;
  pipeline::FormatRegistry formats_;
  WorkerPool decode_{1, 16};
};

TEST_F(HttpDefaultConcurrencyTest, AnHttpSourceGetsEightUnlessTheJobAsks) {
  const std::string http = nginx_->Url("/a");
  ASSERT_OK_AND_ASSIGN(auto unset, PreparedLimits(http, nullptr));
  EXPECT_EQ(unset.at("fetch_concurrency"), 8);
  ASSERT_OK_AND_ASSIGN(auto other_limits, PreparedLimits(http, {{"bytes_in_flight", 65536}}));
  EXPECT_EQ(other_limits.at("fetch_concurrency"), 8);
  ASSERT_OK_AND_ASSIGN(auto asked, PreparedLimits(http, {{"fetch_concurrency", 32}}));
  EXPECT_EQ(asked.at("fetch_concurrency"), 32);
  ASSERT_OK_AND_ASSIGN(auto fewer, PreparedLimits(http, {{"fetch_concurrency", 2}}));
  EXPECT_EQ(fewer.at("fetch_concurrency"), 2);
  ASSERT_OK_AND_ASSIGN(auto flag, PreparedLimits(http, nullptr, /*http_default_in_flight=*/16));
  EXPECT_EQ(flag.at("fetch_concurrency"), 16);
  ASSERT_OK_AND_ASSIGN(auto lower_daemon, PreparedLimits(http, nullptr, 8, /*daemon_default=*/4));
  EXPECT_EQ(lower_daemon.at("fetch_concurrency"), 4);
}

TEST_F(HttpDefaultConcurrencyTest, AFileSourceKeepsTheDaemonDefault) {
  const std::string file = "file://" + (dir_.path() / "a").string();
  ASSERT_OK_AND_ASSIGN(auto unset, PreparedLimits(file, nullptr));
  EXPECT_EQ(unset.at("fetch_concurrency"), 64);
}

}  // namespace
}  // namespace batchd::testing
