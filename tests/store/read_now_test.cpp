// ChunkStore::ReadNow against every store: when it reads, it says what GetMany says (values of
// every size around the store's buffer and page boundaries, empty values, missing keys,
// directories, refused keys, symlinks out of the roots); file:// reads cached files on the
// caller's thread into the caller's buffer and says kWouldWait for a file that is not in the
// page cache; http:// has no fast path.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "pipeline/stores/chunk_store.h"
#include "tests/store/store_backends.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;
using pipeline::Bytes;
using pipeline::ChunkStore;
using Outcome = pipeline::ChunkStore::ReadNowOutcome;

class ReadNowTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make(pipeline::StoreOptions{});
    ASSERT_EQ(backend_->StartError(), "");
    is_file_ = GetParam().name.rfind("file", 0) == 0;
  }

  std::shared_ptr<ChunkStore> OpenArray(const std::string& array) {
    auto store = backend_->registry->Open(backend_->ArrayUrl(array));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  // ReadNow's answer for `key`, checked against GetMany's: the same value, the same missing,
  // or the same error code. Returns the outcome.
  Outcome ExpectAgreesWithGetMany(ChunkStore& store, const std::string& key, Bytes& buffer) {
    Result<std::optional<Bytes>> want = pipeline::ReadKey(store, key);
    Result<Outcome> got = store.ReadNow(key, buffer);
    if (!is_file_) {  // no fast path: it says so whatever the key
      EXPECT_TRUE(got.ok() && *got == Outcome::kUnsupported) << key;
      return Outcome::kUnsupported;
    }
    if (!want.ok()) {
      EXPECT_FALSE(got.ok()) << key << ": GetMany says " << want.status().ToString();
      if (!got.ok()) {
        EXPECT_EQ(got.status().code(), want.status().code()) << key;
      }
      return Outcome::kUnsupported;
    }
    EXPECT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    if (!got.ok()) return Outcome::kUnsupported;
    if (!want->has_value()) {
      EXPECT_EQ(*got, Outcome::kMissing) << key;
    } else {
      EXPECT_EQ(*got, Outcome::kRead) << key;
      if (*got == Outcome::kRead) {
        EXPECT_EQ(buffer, **want) << key;
      }
    }
    return *got;
  }

  std::unique_ptr<StoreBackend> backend_;
  bool is_file_ = false;
};

TEST_P(ReadNowTest, AgreesWithGetManyOnEverySize) {
  const fs::path dir = backend_->ArrayDir("a");
  // Around the 64 KiB first read and 4 KiB pages: a short read that ends on a page boundary
  // must not be taken for the end of the file.
  const std::vector<size_t> sizes = {0,     1,     3000,  4096,     4097,           8192,    65535,
                                     65536, 65537, 69632, 1u << 20, (1u << 20) + 5, 3u << 20};
  for (size_t i = 0; i < sizes.size(); ++i) {
    WriteFileForTest(dir / ("v" + std::to_string(i)), TestBytes(sizes[i], 7 + i));
  }
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  Bytes buffer;
  // Big to small and back: the buffer is reused and must be resized exactly each time.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      const size_t k = pass == 0 ? i : sizes.size() - 1 - i;
      SCOPED_TRACE("size " + std::to_string(sizes[k]));
      ExpectAgreesWithGetMany(*store, "v" + std::to_string(k), buffer);
    }
  }
}

TEST_P(ReadNowTest, AgreesWithGetManyOnMissingKeysDirectoriesAndRefusedKeys) {
  const fs::path dir = backend_->ArrayDir("a");
  WriteFileForTest(dir / "sub/0", TestBytes(10, 1));
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  Bytes buffer;
  for (const char* key : {"missing", "sub/missing", "missing/deeper", "sub/0/under-a-file", "sub",
                          "../a/sub/0", "a//b", "/sub/0", ""}) {
    SCOPED_TRACE(std::string("key \"") + key + "\"");
    ExpectAgreesWithGetMany(*store, key, buffer);
  }
}

TEST_P(ReadNowTest, OnlyTheFileStoreReadsOnTheCallersThread) {
  WriteFileForTest(backend_->ArrayDir("a") / "0.0", TestBytes(100, 3));
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  Bytes buffer;
  ASSERT_OK_AND_ASSIGN(Outcome outcome, store->ReadNow("0.0", buffer));
  EXPECT_EQ(outcome, is_file_ ? Outcome::kRead : Outcome::kUnsupported);
}

INSTANTIATE_TEST_SUITE_P(AllStores, ReadNowTest, ::testing::ValuesIn(AllBackendKinds()),
                         [](const auto& info) { return info.param.name; });

class FileReadNowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const BackendKind& kind : AllBackendKinds()) {
      if (kind.name == "file") backend_ = kind.make(pipeline::StoreOptions{});
    }
    ASSERT_TRUE(backend_);
    ASSERT_EQ(backend_->StartError(), "");
  }

  std::shared_ptr<ChunkStore> OpenArray() {
    auto store = backend_->registry->Open(backend_->ArrayUrl("a"));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  std::unique_ptr<StoreBackend> backend_;
};

// Drops a file's pages from the page cache (after writing them back, since dirty pages stay).
void EvictFromPageCache(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::fdatasync(fd), 0);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ::close(fd);
}

TEST_F(FileReadNowTest, AFileNotInThePageCacheWouldWaitUntilGetManyHasReadIt) {
  const fs::path file = backend_->ArrayDir("a") / "cold";
  WriteFileForTest(file, TestBytes(256 << 10, 5));
  EvictFromPageCache(file);
  auto store = OpenArray();
  ASSERT_TRUE(store);
  Bytes buffer;
  ASSERT_OK_AND_ASSIGN(Outcome cold, store->ReadNow("cold", buffer));
  EXPECT_EQ(cold, Outcome::kWouldWait);
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, "cold"));  // now it is cached
  ASSERT_OK_AND_ASSIGN(Outcome warm, store->ReadNow("cold", buffer));
  EXPECT_EQ(warm, Outcome::kRead);
  EXPECT_EQ(buffer, TestBytes(256 << 10, 5));
}

TEST_F(FileReadNowTest, ADirectoryUnderAKeyDoesNotTurnTheFastPathOff) {
  WriteFileForTest(backend_->ArrayDir("a") / "sub/0", TestBytes(10, 1));
  WriteFileForTest(backend_->ArrayDir("a") / "0.0", TestBytes(10, 2));
  auto store = OpenArray();
  ASSERT_TRUE(store);
  Bytes buffer;
  ASSERT_OK_AND_ASSIGN(Outcome directory, store->ReadNow("sub", buffer));
  EXPECT_EQ(directory, Outcome::kMissing);
  ASSERT_OK_AND_ASSIGN(Outcome file, store->ReadNow("0.0", buffer));
  EXPECT_EQ(file, Outcome::kRead);
}

TEST_F(FileReadNowTest, ASymlinkOutOfTheRootsIsRefusedAsByGetMany) {
  TempDir outside;
  WriteFileForTest(outside.path() / "secret", TestBytes(10, 3));
  fs::create_directories(backend_->ArrayDir("a"));
  fs::create_symlink(outside.path() / "secret", backend_->ArrayDir("a") / "abs-out");
  auto store = OpenArray();
  ASSERT_TRUE(store);
  Bytes buffer;
  Result<Outcome> got = store->ReadNow("abs-out", buffer);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("outside the file roots"), std::string::npos)
      << got.status().message();
}

TEST_F(FileReadNowTest, ReusesTheCallersBuffer) {
  WriteFileForTest(backend_->ArrayDir("a") / "big", TestBytes(200'000, 1));
  WriteFileForTest(backend_->ArrayDir("a") / "small", TestBytes(1000, 2));
  auto store = OpenArray();
  ASSERT_TRUE(store);
  Bytes buffer;
  ASSERT_OK_AND_ASSIGN(Outcome big, store->ReadNow("big", buffer));
  ASSERT_EQ(big, Outcome::kRead);
  const uint8_t* storage = buffer.data();
  ASSERT_OK_AND_ASSIGN(Outcome small, store->ReadNow("small", buffer));
  ASSERT_EQ(small, Outcome::kRead);
  EXPECT_EQ(buffer, TestBytes(1000, 2));
  EXPECT_EQ(buffer.data(), storage) << "a smaller value must not reallocate";
}

TEST_F(FileReadNowTest, AFifoUnderAKeyNeverHangsAndIsNoValue) {
  const fs::path fifo = backend_->ArrayDir("a") / "fifo";
  fs::create_directories(fifo.parent_path());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto store = OpenArray();
  ASSERT_TRUE(store);
  Bytes buffer;
  Result<Outcome> got = store->ReadNow("fifo", buffer);
  if (got.ok()) {
    EXPECT_EQ(*got, Outcome::kWouldWait);  // then GetMany reports it
  } else {
    EXPECT_EQ(got.status().code(), StatusCode::kIoError) << got.status().ToString();
  }
  EXPECT_EQ(pipeline::ReadKey(*store, "fifo").status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace batchd::testing
