// The put protocol of file:// stores (atomic_file_write.h): temp file names, cleanup of what a
// dead writer left (and only that), and a writer SIGKILLed mid-put leaving every key whole.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "pipeline/stores/atomic_file_write.h"
#include "pipeline/stores/chunk_store.h"
#include "tests/store/store_backends.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;
using pipeline::Bytes;

Bytes ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  return Bytes(s.begin(), s.end());
}

TEST(TempFileNameTest, IsRecognisableAndUnique) {
  std::string a = pipeline::NextTempFileName("0.0");
  std::string b = pipeline::NextTempFileName("0.0");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind(".0.0.tmp-" + std::to_string(::getpid()) + "-", 0), 0u) << a;
  EXPECT_TRUE(pipeline::IsTempFileName(a));
  EXPECT_TRUE(pipeline::IsTempFileName(pipeline::NextTempFileName(".zarray")));
  EXPECT_LE(pipeline::NextTempFileName(std::string(255, 'x')).size(), 255u);
  for (const char* name : {"0.0", ".zarray", ".zattrs", "zarr.json", ".tmp-1-2", ".x.tmp-",
                           ".x.tmp-1-", ".x.tmp--2", ".x.tmp-1-2a", "x.tmp-1-2", "c"}) {
    EXPECT_FALSE(pipeline::IsTempFileName(name)) << name;
  }
}

TEST(RemoveStaleTempFilesTest, RemovesDeadWritersTempFilesOnly) {
  TempDir tmp;
  fs::path array = tmp.path() / "a";
  WriteFileForTest(array / ".zarray", TestBytes(10, 1));
  WriteFileForTest(array / "0.0", TestBytes(10, 2));
  WriteFileForTest(array / ".0.0.tmp-999999-1", TestBytes(5, 3));  // a dead writer's
  WriteFileForTest(array / "c/0/.0.tmp-999999-2", TestBytes(5, 4));
  WriteFileForTest(array / "c/0/.live.tmp-1-3", TestBytes(5, 5));
  // A live writer holds its temp file's lock until the rename.
  int live = ::open((array / "c/0/.live.tmp-1-3").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(live, 0);
  ASSERT_EQ(::flock(live, LOCK_EX), 0);

  pipeline::StoreRegistry registry;
  pipeline::StoreOptions options;
  options.file_roots = {tmp.path()};
  pipeline::RegisterBuiltinStores(registry, options);
  ASSERT_OK_AND_ASSIGN(auto store, registry.Open("file://" + array.string()));
  ASSERT_OK_AND_ASSIGN(size_t removed, store->RemoveStaleTempFiles());
  EXPECT_EQ(removed, 2u);
  EXPECT_EQ(TempFilesUnder(array), std::vector<fs::path>{array / "c/0/.live.tmp-1-3"});
  EXPECT_TRUE(fs::exists(array / ".zarray"));
  EXPECT_TRUE(fs::exists(array / "0.0"));

  ::close(live);  // the writer died
  ASSERT_OK_AND_ASSIGN(size_t later, store->RemoveStaleTempFiles());
  EXPECT_EQ(later, 1u);
  EXPECT_EQ(TempFilesUnder(array), std::vector<fs::path>());

  ASSERT_OK_AND_ASSIGN(auto never, registry.Open("file://" + (tmp.path() / "never").string()));
  ASSERT_OK_AND_ASSIGN(size_t none, never->RemoveStaleTempFiles());
  EXPECT_EQ(none, 0u);
}

TEST(RemoveStaleTempFilesTest, DoesNotFollowSymlinkedDirectories) {
  TempDir tmp;
  WriteFileForTest(tmp.path() / "elsewhere/.x.tmp-999999-1", TestBytes(5, 1));
  fs::create_directories(tmp.path() / "a");
  fs::create_directory_symlink(tmp.path() / "elsewhere", tmp.path() / "a/link");
  int dir = ::open((tmp.path() / "a").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  auto removed = pipeline::RemoveStaleTempFiles(dir, "a");
  ::close(dir);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 0u);
  EXPECT_TRUE(fs::exists(tmp.path() / "elsewhere/.x.tmp-999999-1"));
}

// A child process puts two alternating values into ten keys as fast as it can; it is SIGKILLed
// mid-way. Every key must then hold one of the two values whole, and the cleanup must leave no
// temp file.
TEST(AtomicFileWriteTest, KillNineMidPutLeavesEveryKeyWhole) {
  TempDir tmp;
  constexpr int kKeys = 10;
  const Bytes value_a(48 * 1024, 'A');
  const Bytes value_b(80 * 1024, 'B');
  int dir = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (uint64_t round = 0;; ++round) {
      for (int k = 0; k < kKeys; ++k) {
        const Bytes& v = (round + k) % 2 == 0 ? value_a : value_b;
        if (!pipeline::WriteFileAtomically(dir, "k" + std::to_string(k), v, "k").ok()) _exit(3);
      }
    }
  }
  // Let it get through a few rounds (every key written at least once), then kill it.
  for (int spin = 0; spin < 30000 && !fs::exists(tmp.path() / ("k" + std::to_string(kKeys - 1)));
       ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer failed on its own, status " << status;

  for (int k = 0; k < kKeys; ++k) {
    Bytes got = ReadWhole(tmp.path() / ("k" + std::to_string(k)));
    EXPECT_TRUE(got == value_a || got == value_b)
        << "k" << k << " holds " << got.size() << " bytes, neither value";
  }
  auto removed = pipeline::RemoveStaleTempFiles(dir, "kill test");
  ::close(dir);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(TempFilesUnder(tmp.path()), std::vector<fs::path>());
}

}  // namespace
}  // namespace batchd::testing
