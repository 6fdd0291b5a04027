// file:// specifics: confinement to the file roots (directly, through "..", through symlinked
// directories and chunk files, with no roots, with a root that is a string prefix of another
// directory) under both enforcement paths; URL forms; temp files after a failed put;
// concurrent puts of one key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "pipeline/stores/atomic_file_write.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/file_store.h"
#include "tests/store/store_backends.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;
using pipeline::Bytes;
using pipeline::ChunkStore;
using pipeline::FileRoots;

std::string FileUrl(const fs::path& path) { return "file://" + path.string(); }

// A registry whose file:// stores are confined to `roots`, enforced as `enforcement` says.
std::unique_ptr<pipeline::StoreRegistry> FileRegistry(const std::vector<fs::path>& roots,
                                                      FileRoots::Enforcement enforcement) {
  auto registry = std::make_unique<pipeline::StoreRegistry>();
  auto opened = FileRoots::Open(roots, enforcement);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  auto io = std::make_shared<pipeline::IoThreadPool>(2, 256);
  registry->Register("file",
                     [roots = opened.ok() ? *opened : nullptr,
                      io](const std::string& url) -> Result<std::shared_ptr<ChunkStore>> {
                       return pipeline::OpenFileStore(url, roots, io);
                     });
  return registry;
}

void ExpectOutsideRoots(const Status& status, const std::string& context) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << context << ": " << status.ToString();
  EXPECT_NE(status.message().find("outside the file roots"), std::string::npos)
      << context << ": " << status.message();
}

// Layout: <tmp>/root (the only root) holding array "a"; <tmp>/other outside it, with a secret.
class FileRootsTest : public ::testing::TestWithParam<FileRoots::Enforcement> {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "root";
    other_ = tmp_.path() / "other";
    WriteFileForTest(root_ / "a/0.0", TestBytes(8, 1));
    WriteFileForTest(other_ / "secret", TestBytes(8, 2));
    WriteFileForTest(other_ / "dir/0", TestBytes(8, 3));
    registry_ = FileRegistry({root_}, GetParam());
  }

  std::shared_ptr<ChunkStore> OpenArray() {
    auto store = registry_->Open(FileUrl(root_ / "a"));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  TempDir tmp_;
  fs::path root_, other_;
  std::unique_ptr<pipeline::StoreRegistry> registry_;
};

TEST_P(FileRootsTest, RefusesArraysOutsideTheRoots) {
  ExpectOutsideRoots(registry_->Open(FileUrl(other_)).status(), "directly");
  ExpectOutsideRoots(registry_->Open(FileUrl(root_ / ".." / "other")).status(), "via ..");
  ExpectOutsideRoots(registry_->Open(FileUrl(root_ / "a/../../other/dir")).status(), "via a/..");
  fs::create_directory_symlink(other_, root_ / "link-out");
  ExpectOutsideRoots(registry_->Open(FileUrl(root_ / "link-out")).status(), "symlinked dir");
  ExpectOutsideRoots(registry_->Open(FileUrl(root_ / "link-out/dir")).status(), "through it");
  // The message names the URL and the roots.
  Status s = registry_->Open(FileUrl(other_)).status();
  EXPECT_NE(s.message().find(FileUrl(other_)), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(root_.string()), std::string::npos) << s.message();
}

TEST_P(FileRootsTest, RefusesASymlinkedChunkFileThatLeadsOutside) {
  fs::create_symlink(other_ / "secret", root_ / "a/abs-out");
  fs::create_symlink("../../other/secret", root_ / "a/rel-out");
  auto store = OpenArray();
  ASSERT_TRUE(store);
  ExpectOutsideRoots(pipeline::ReadKey(*store, "abs-out").status(), "absolute symlink");
  ExpectOutsideRoots(pipeline::ReadKey(*store, "rel-out").status(), "relative symlink");
  // A put replaces the link itself and never writes through it.
  ASSERT_OK(pipeline::WriteKey(*store, "abs-out", TestBytes(8, 9)));
  EXPECT_FALSE(fs::is_symlink(root_ / "a/abs-out"));
  std::ifstream secret(other_ / "secret", std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(secret)), {});
  Bytes original = TestBytes(8, 2);
  EXPECT_EQ(Bytes(content.begin(), content.end()), original);
}

TEST_P(FileRootsTest, RefusesKeysThroughASymlinkedDirectoryInsideTheArray) {
  fs::create_directory_symlink(other_ / "dir", root_ / "a/9");
  auto store = OpenArray();
  ASSERT_TRUE(store);
  ExpectOutsideRoots(pipeline::ReadKey(*store, "9/0").status(), "read");
  ExpectOutsideRoots(pipeline::WriteKey(*store, "9/1", TestBytes(4, 4)), "write");
  ExpectOutsideRoots(pipeline::WriteKey(*store, "9/new/deeper", TestBytes(4, 4)), "mkdir");
  EXPECT_FALSE(fs::exists(other_ / "dir/1"));
  EXPECT_FALSE(fs::exists(other_ / "dir/new"));
}

TEST_P(FileRootsTest, FollowsSymlinksThatStayInsideTheRoots) {
  WriteFileForTest(root_ / "shared/blob", TestBytes(16, 5));
  fs::create_symlink(root_ / "shared/blob", root_ / "a/abs-in");  // absolute: the slow path
  fs::create_symlink("../shared/blob", root_ / "a/rel-in");       // relative: the kernel's
  fs::create_directory_symlink(root_ / "shared", root_ / "a/dir-in");
  auto store = OpenArray();
  ASSERT_TRUE(store);
  for (const char* key : {"abs-in", "rel-in", "dir-in/blob"}) {
    auto value = pipeline::ReadKey(*store, key);
    ASSERT_TRUE(value.ok()) << key << ": " << value.status().ToString();
    ASSERT_TRUE(value->has_value()) << key;
    EXPECT_EQ(**value, TestBytes(16, 5)) << key;
  }
}

TEST_P(FileRootsTest, FollowsSymlinksIntoAnotherRoot) {
  registry_ = FileRegistry({root_, other_}, GetParam());
  fs::create_symlink(other_ / "secret", root_ / "a/into-other");
  auto store = OpenArray();
  ASSERT_TRUE(store);
  auto value = pipeline::ReadKey(*store, "into-other");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ(**value, TestBytes(8, 2));
}

TEST_P(FileRootsTest, ARootIsNotAPrefixStringOfASiblingDirectory) {
  WriteFileForTest(tmp_.path() / "root2/a/0.0", TestBytes(8, 6));
  ExpectOutsideRoots(registry_->Open(FileUrl(tmp_.path() / "root2/a")).status(), "root2");
  fs::create_symlink(tmp_.path() / "root2/a/0.0", root_ / "a/to-root2");
  auto store = OpenArray();
  ASSERT_TRUE(store);
  ExpectOutsideRoots(pipeline::ReadKey(*store, "to-root2").status(), "symlink to root2");
}

INSTANTIATE_TEST_SUITE_P(BothEnforcements, FileRootsTest,
                         ::testing::Values(FileRoots::Enforcement::kKernel,
                                           FileRoots::Enforcement::kUserSpace),
                         [](const auto& info) {
                           return info.param == FileRoots::Enforcement::kKernel ? "openat2"
                                                                                : "userspace";
                         });

TEST(FileStoreTest, WithoutRootsEveryUrlIsRefusedWithHowToConfigure) {
  pipeline::StoreRegistry registry;
  pipeline::RegisterBuiltinStores(registry, pipeline::StoreOptions{});
  TempDir tmp;
  for (const std::string& url :
       {FileUrl(tmp.path()), std::string("file:///"), std::string("file:///etc/passwd")}) {
    Status s = registry.Open(url).status();
    ExpectOutsideRoots(s, url);
    EXPECT_NE(s.message().find("--file-root"), std::string::npos) << s.message();
  }
}

TEST(FileStoreTest, AMissingRootMakesEveryOpenFailNamingIt) {
  TempDir tmp;
  pipeline::StoreRegistry registry;
  pipeline::StoreOptions options;
  options.file_roots = {tmp.path() / "does-not-exist"};
  pipeline::RegisterBuiltinStores(registry, options);
  Status s = registry.Open(FileUrl(tmp.path() / "does-not-exist/a")).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does-not-exist"), std::string::npos) << s.message();
}

TEST(FileStoreTest, UrlForms) {
  TempDir tmp;
  WriteFileForTest(tmp.path() / "with space/0", TestBytes(4, 1));
  auto registry = FileRegistry({tmp.path()}, FileRoots::Enforcement::kKernel);

  auto encoded = registry->Open("file://" + tmp.path().string() + "/with%20space");
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(**encoded, "0"));
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, TestBytes(4, 1));

  EXPECT_TRUE(registry->Open("file://localhost" + tmp.path().string()).ok());
  EXPECT_TRUE(registry->Open("FILE://LocalHost" + tmp.path().string()).ok());

  const std::string refused[] = {
      "file://otherhost" + tmp.path().string(),    // a host
      "file:" + tmp.path().string(),               // no "//"
      "file://relative/path",                      // "relative" is a host
      "file://" + tmp.path().string() + "?x=1",    // query
      "file://" + tmp.path().string() + "#f",      // fragment
      "file://" + tmp.path().string() + "/%zz",    // bad escape
      "file://" + tmp.path().string() + "/a%00b",  // NUL
      "file://",                                   // nothing
      "ftp://host/a",                              // unknown scheme
  };
  for (const std::string& url : refused) {
    Status s = registry->Open(url).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url << ": " << s.ToString();
    EXPECT_NE(s.message().find(url), std::string::npos) << s.message();
  }
}

TEST(FileStoreTest, ADirectoryUnderAKeyReadsAsMissing) {
  TempDir tmp;
  WriteFileForTest(tmp.path() / "a/0/0", TestBytes(4, 1));
  auto registry = FileRegistry({tmp.path()}, FileRoots::Enforcement::kKernel);
  ASSERT_OK_AND_ASSIGN(auto store, registry->Open(FileUrl(tmp.path() / "a")));
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, "0"));
  EXPECT_FALSE(value.has_value());
}

TEST(FileStoreTest, AFifoIsAnErrorNotAHang) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "a");
  ASSERT_EQ(::mkfifo((tmp.path() / "a/0.0").c_str(), 0600), 0);
  auto registry = FileRegistry({tmp.path()}, FileRoots::Enforcement::kKernel);
  ASSERT_OK_AND_ASSIGN(auto store, registry->Open(FileUrl(tmp.path() / "a")));
  Status s = pipeline::ReadKey(*store, "0.0").status();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("\"0.0\""), std::string::npos) << s.message();
}

TEST(FileStoreTest, AFailedPutLeavesNoTempFileAndTheOldValue) {
  TempDir tmp;
  // "busy" is a non-empty directory: the temp file is written, then the rename over it fails.
  WriteFileForTest(tmp.path() / "a/busy/inner", TestBytes(4, 1));
  WriteFileForTest(tmp.path() / "a/0.0", TestBytes(4, 2));
  auto registry = FileRegistry({tmp.path()}, FileRoots::Enforcement::kKernel);
  ASSERT_OK_AND_ASSIGN(auto store, registry->Open(FileUrl(tmp.path() / "a")));
  Status s = pipeline::WriteKey(*store, "busy", TestBytes(1000, 3));
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("\"busy\""), std::string::npos) << s.message();
  EXPECT_EQ(TempFilesUnder(tmp.path()), std::vector<fs::path>());

  // A key below a file: its directory cannot be created.
  Status below = pipeline::WriteKey(*store, "0.0/x", TestBytes(10, 4));
  EXPECT_EQ(below.code(), StatusCode::kIoError) << below.ToString();
  ASSERT_OK_AND_ASSIGN(auto old, pipeline::ReadKey(*store, "0.0"));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(*old, TestBytes(4, 2));
  EXPECT_EQ(TempFilesUnder(tmp.path()), std::vector<fs::path>());
}

TEST(FileStoreTest, ConcurrentPutsOfOneKeyNeverShowAPartialValue) {
  TempDir tmp;
  auto registry = FileRegistry({tmp.path()}, FileRoots::Enforcement::kKernel);
  ASSERT_OK_AND_ASSIGN(auto store, registry->Open(FileUrl(tmp.path() / "a")));
  constexpr int kWriters = 6;
  constexpr int kPutsEach = 25;
  // Writer w always writes 20000 + 4099 * w bytes of value w: a read tells which writer it
  // came from by its length and must then match that writer's bytes exactly.
  auto value_of = [](int w) { return Bytes(20000 + 4099 * w, static_cast<uint8_t>(w + 1)); };
  std::atomic<bool> writing{true};
  std::atomic<int> bad_reads{0}, good_reads{0};
  std::thread reader([&] {
    while (writing) {
      auto r = pipeline::ReadKey(*store, "k");
      if (!r.ok()) {
        ++bad_reads;
        continue;
      }
      if (!r->has_value()) continue;  // before the first rename
      const Bytes& got = **r;
      int w = static_cast<int>((got.size() - 20000) / 4099);
      if (got.size() < 20000 || w >= kWriters || got != value_of(w)) {
        ++bad_reads;
      } else {
        ++good_reads;
      }
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> failed_puts{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPutsEach; ++i) {
        if (!pipeline::WriteKey(*store, "k", value_of(w)).ok()) ++failed_puts;
      }
    });
  }
  for (auto& t : writers) t.join();
  writing = false;
  reader.join();
  EXPECT_EQ(failed_puts.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_GT(good_reads.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto last, pipeline::ReadKey(*store, "k"));
  ASSERT_TRUE(last.has_value());
  int w = static_cast<int>((last->size() - 20000) / 4099);
  EXPECT_EQ(*last, value_of(w));
  EXPECT_EQ(TempFilesUnder(tmp.path()), std::vector<fs::path>());
}

}  // namespace
}  // namespace batchd::testing
