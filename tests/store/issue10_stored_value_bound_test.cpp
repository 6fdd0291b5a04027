// Issue 10, item 2(b): stored values were read whole before any check. A 3 GiB sparse chunk
// file (its decoded chunk 4 KiB) took the daemon to 3.06 GB; an http server sending 300 MB for
// 1 KiB chunks, to 3.86 GB. Now a store bounded with LimitValueBytes refuses a larger value
// before reading it: the file's size, the response's Content-Length.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/engine/io_thread_pool.h"
#include "pipeline/stores/file_roots.h"
#include "pipeline/stores/file_store.h"
#include "pipeline/stores/http_store.h"
#include "tests/store/read_collector.h"
#include "tests/store/store_backends.h"
#include "tests/support/sanitizer_build.h"
#include "tests/support/scripted_http_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;
using pipeline::Bytes;
using pipeline::ChunkStore;

constexpr uint64_t kBound = 4096 + 4096 / 16 + (64 << 10);  // MaxStoredChunkBytes of 4 KiB
constexpr uint64_t kHuge = uint64_t{3} << 30;

// VmHWM: the most this process ever held resident.
int64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  ADD_FAILURE() << "no VmHWM in /proc/self/status";
  return 0;
}

Result<std::optional<Bytes>> ReadOne(ChunkStore& store, const std::string& key) {
  ReadCollector reads(1);
  store.GetMany({key}, 1, nullptr, reads.Callback());
  EXPECT_TRUE(reads.WaitAll());
  return reads.result(0);
}

void ExpectRefusedUnread(const Status& s, const std::string& size) {
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find(size), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(std::to_string(kBound)), std::string::npos) << s.ToString();
}

TEST(StoredValueBoundTest, AHugeSparseChunkFileIsRefusedBeforeItIsRead) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "a");
  {
    const int fd = ::open((tmp.path() / "a" / "0").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(kHuge)), 0);  // sparse: no disk used
    ::close(fd);
  }
  auto roots = pipeline::FileRoots::Open({tmp.path()});
  ASSERT_TRUE(roots.ok()) << roots.status().ToString();
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<ChunkStore> store,
                       pipeline::OpenFileStore("file://" + (tmp.path() / "a").string(), *roots,
                                               std::make_shared<pipeline::IoThreadPool>(2, 64)));
  store->LimitValueBytes(kBound);
  const int64_t peak_before = PeakRss();
  Result<std::optional<Bytes>> read = ReadOne(*store, "0");
  ASSERT_FALSE(read.ok());
  ExpectRefusedUnread(read.status(), std::to_string(kHuge));
  EXPECT_NE(read.status().message().find("\"0\""), std::string::npos) << read.status().ToString();
  Bytes into;
  Result<ChunkStore::ReadNowOutcome> now = store->ReadNow("0", into);
  if (!now.ok()) ExpectRefusedUnread(now.status(), std::to_string(kHuge));
  // What was read stayed small: the 3 GiB never came into memory.
  if (!kMemoryIsSanitized) EXPECT_LT(PeakRss() - peak_before, int64_t{256} << 20);
  EXPECT_LT(into.capacity(), size_t{1} << 20);
}

TEST(StoredValueBoundTest, AResponseLargerThanTheBoundIsRefusedOnceWithoutRetries) {
  const std::string big(8 << 20, 'x');  // 8 MiB for a chunk bounded at ~68 KiB
  ASSERT_OK_AND_ASSIGN(auto server, ScriptedHttpServer::Start([&](const auto&) {
                         return ScriptedHttpServer::Reply{.status = 200, .body = big};
                       }));
  auto client = pipeline::HttpClient::Create({});
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<ChunkStore> store,
                       pipeline::OpenHttpStore(server->Url("/a"), client, {.max_in_flight = 4},
                                               AllowLoopbackPort(server->port()).get()));
  store->LimitValueBytes(kBound);
  Result<std::optional<Bytes>> read = ReadOne(*store, "0");
  ASSERT_FALSE(read.ok()) << (read.ok() && read->has_value() ? std::to_string((*read)->size())
                                                             : "missing");
  EXPECT_EQ(read.status().code(), StatusCode::kCorrupt) << read.status().ToString();
  EXPECT_NE(read.status().message().find(std::to_string(kBound)), std::string::npos)
      << read.status().ToString();
  EXPECT_EQ(server->requests_received(), 1) << "the same request would get the same answer";
  // Within the bound the same store reads.
  store->LimitValueBytes(uint64_t{16} << 20);
  ASSERT_OK_AND_ASSIGN(std::optional<Bytes> ok, ReadOne(*store, "0"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->size(), big.size());
}

}  // namespace
}  // namespace batchd::testing
