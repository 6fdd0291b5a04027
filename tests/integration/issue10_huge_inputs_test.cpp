// Issue 10, items 1, 2(b) and 9 against the real daemon: small files that describe enormous
// work or hold enormous values end their session in a permanent error naming the limit or the
// chunk, and the daemon's memory stays small throughout (its VmHWM is read at the end).
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/sanitizer_build.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

int64_t PeakRssOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

class HugeInputsTest : public DaemonTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartDaemon({"--file-root", root_.path().string()}));
  }
  std::string Array(const std::string& name, const std::string& zarray) {
    fs::create_directories(root_.path() / name);
    std::ofstream(root_.path() / name / ".zarray") << zarray;
    return "file://" + (root_.path() / name).string();
  }
  static std::string V2(const std::string& shape, const std::string& chunks) {
    return R"({"zarr_format": 2, "shape": )" + shape + R"(, "chunks": )" + chunks +
           R"(, "dtype": "<f4", "compressor": null, "fill_value": 0, "order": "C",
               "filters": null})";
  }
  // Runs one stats session over `url` to its end; its session JSON.
  json StatsSession(const std::string& url) {
    json batch = {{"name", "huge"},
                  {"template", {{"op", "stats"}, {"source", {{"url", url}}}, {"region", nullptr}}}};
    Result<json> session = RunSingleSessionBatch(client(), batch, std::chrono::seconds(120));
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    return session.ok() ? *session : json();
  }
  void ExpectPermanentErrorSaying(const json& s, const std::string& what) {
    EXPECT_EQ(s["state"], "error") << s.dump();
    EXPECT_EQ(s["error"]["kind"], "permanent") << s.dump();
    EXPECT_NE(s["error"]["message"].get<std::string>().find(what), std::string::npos) << s.dump();
  }

  TempDir root_;
};

TEST_F(HugeInputsTest, GridsChunksAndStoredValuesPastTheLimitsEndTheirSessionNotTheDaemon) {
  // 2^62 chunks: it used to throw std::bad_alloc, abort, and do so again at every restart.
  ExpectPermanentErrorSaying(StatsSession(Array("grid", V2("[4611686018427387904]", "[1]"))),
                             "--max-session-chunks");
  // A 1 GiB chunk to count 4 elements.
  ExpectPermanentErrorSaying(StatsSession(Array("chunk", V2("[4]", "[268435456]"))),
                             "--max-chunk-bytes");
  // A 3 GiB (sparse) file under a chunk that decodes to 4 KiB: refused unread, naming the chunk.
  const std::string sparse = Array("sparse", V2("[1024]", "[1024]"));
  {
    const int fd = ::open((root_.path() / "sparse" / "0").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{3} << 30), 0);
    ::close(fd);
  }
  const json s = StatsSession(sparse);
  ExpectPermanentErrorSaying(s, "chunk 0:");
  ExpectPermanentErrorSaying(s, std::to_string(uint64_t{3} << 30));
  // The daemon is alive, its counters equal its rows, and it never held much.
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.status, 200);
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  for (const auto& [id, audit] : audits) EXPECT_EQ(audit.counters, audit.rows) << id;
  const int64_t peak = PeakRssOf(daemon().pid());
  ASSERT_GT(peak, 0);
  // A sanitizer's shadow memory and quarantine alone exceed the bound there.
  if (!kMemoryIsSanitized) EXPECT_LT(peak, int64_t{256} << 20) << "VmHWM " << peak;
}

}  // namespace
}  // namespace batchd::testing
