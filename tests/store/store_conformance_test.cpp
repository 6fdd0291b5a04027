// The contract of chunk_store.h, checked against every store (file:// with both enforcement
// paths, http:// and https:// against nginx): reads of present, missing, nested, empty and large
// keys; every key reported exactly once at any concurrency; put, overwrite, refused keys;
// cancellation; concurrent callers; a store and its registry dropped while reads are in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "pipeline/stores/chunk_store.h"
#include "tests/store/read_collector.h"
#include "tests/store/store_backends.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

using pipeline::Bytes;
using pipeline::CancelToken;
using pipeline::ChunkStore;

class StoreConformanceTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    pipeline::StoreOptions options;
    options.http_retry_base_ms = 5;
    options.http_timeout_ms = 10'000;
    backend_ = GetParam().make(options);
    ASSERT_EQ(backend_->StartError(), "");
  }

  std::shared_ptr<ChunkStore> OpenArray(const std::string& array) {
    auto store = backend_->registry->Open(backend_->ArrayUrl(array));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  // Seeds keys "k<i>" for even i (odd ones stay missing); returns the keys, all of them.
  std::vector<std::string> SeedHalf(const std::string& array, size_t count) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < count; ++i) {
      keys.push_back("k" + std::to_string(i));
      if (i % 2 == 0) {
        WriteFileForTest(backend_->ArrayDir(array) / keys.back(), TestBytes(100 + i, i));
      }
    }
    return keys;
  }

  // Checks what SeedHalf seeded came back from a GetMany, index by index.
  static void ExpectSeededHalf(const ReadCollector& reads, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      const auto& r = reads.result(i);
      ASSERT_TRUE(r.ok()) << "key k" << i << ": " << r.status().ToString();
      if (i % 2 == 0) {
        ASSERT_TRUE(r->has_value()) << "key k" << i << " should exist";
        EXPECT_EQ(**r, TestBytes(100 + i, i)) << "key k" << i;
      } else {
        EXPECT_FALSE(r->has_value()) << "key k" << i << " should be missing";
      }
    }
  }

  std::unique_ptr<StoreBackend> backend_;
};

TEST_P(StoreConformanceTest, ReadsAnExistingKey) {
  WriteFileForTest(backend_->ArrayDir("a") / ".zarray", TestBytes(300, 1));
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto value, pipeline::ReadKey(*store, ".zarray"));
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, TestBytes(300, 1));
}

TEST_P(StoreConformanceTest, MissingKeyAndMissingArrayReadAsNullopt) {
  WriteFileForTest(backend_->ArrayDir("a") / "0.0", TestBytes(10, 1));
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto missing, pipeline::ReadKey(*store, "0.1"));
  EXPECT_FALSE(missing.has_value());
  ASSERT_OK_AND_ASSIGN(auto under_missing_dir, pipeline::ReadKey(*store, "9/9/9"));
  EXPECT_FALSE(under_missing_dir.has_value());

  auto absent = OpenArray("never-written");
  ASSERT_TRUE(absent);
  ASSERT_OK_AND_ASSIGN(auto none, pipeline::ReadKey(*absent, "0.0"));
  EXPECT_FALSE(none.has_value());
}

TEST_P(StoreConformanceTest, GetManyReportsEveryKeyExactlyOnceAtAnyConcurrency) {
  constexpr size_t kKeys = 300;
  std::vector<std::string> keys = SeedHalf("a", kKeys);
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  for (int max_in_flight : {1, 64}) {
    SCOPED_TRACE("max_in_flight " + std::to_string(max_in_flight));
    ReadCollector reads(kKeys);
    store->GetMany(keys, max_in_flight, nullptr, reads.Callback());
    ASSERT_TRUE(reads.WaitAll());
    EXPECT_EQ(reads.ExactlyOnceViolations(), "");
    ExpectSeededHalf(reads, kKeys);
  }
}

TEST_P(StoreConformanceTest, EmptyKeyListCallsNothing) {
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  std::atomic<int> calls{0};
  store->GetMany({}, 8, nullptr, [&](size_t, auto) { ++calls; });
  // A read issued afterwards completes, so a stray callback from the empty call would be in.
  ASSERT_OK(pipeline::ReadKey(*store, "x").status());
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(StoreConformanceTest, NestedKeys) {
  WriteFileForTest(backend_->ArrayDir("a") / "0/1/2", TestBytes(64, 7));
  WriteFileForTest(backend_->ArrayDir("a") / "c/0/0", TestBytes(65, 8));
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto v012, pipeline::ReadKey(*store, "0/1/2"));
  ASSERT_TRUE(v012.has_value());
  EXPECT_EQ(*v012, TestBytes(64, 7));
  ASSERT_OK_AND_ASSIGN(auto c00, pipeline::ReadKey(*store, "c/0/0"));
  ASSERT_TRUE(c00.has_value());
  EXPECT_EQ(*c00, TestBytes(65, 8));

  ASSERT_OK(pipeline::WriteKey(*store, "c/1/2/3", TestBytes(66, 9)));
  ASSERT_OK_AND_ASSIGN(auto c123, pipeline::ReadKey(*store, "c/1/2/3"));
  ASSERT_TRUE(c123.has_value());
  EXPECT_EQ(*c123, TestBytes(66, 9));
  EXPECT_TRUE(std::filesystem::is_regular_file(backend_->ArrayDir("a") / "c/1/2/3"));
}

TEST_P(StoreConformanceTest, EmptyValueIsPresentNotMissing) {
  WriteFileForTest(backend_->ArrayDir("a") / "seeded-empty", {});
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto seeded, pipeline::ReadKey(*store, "seeded-empty"));
  ASSERT_TRUE(seeded.has_value());
  EXPECT_TRUE(seeded->empty());

  ASSERT_OK(pipeline::WriteKey(*store, "put-empty", Bytes()));
  ASSERT_OK_AND_ASSIGN(auto put, pipeline::ReadKey(*store, "put-empty"));
  ASSERT_TRUE(put.has_value());
  EXPECT_TRUE(put->empty());
}

TEST_P(StoreConformanceTest, EightMebibyteValueRoundTrips) {
  constexpr size_t kSize = 8 << 20;
  WriteFileForTest(backend_->ArrayDir("a") / "seeded-big", TestBytes(kSize, 3));
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(auto seeded, pipeline::ReadKey(*store, "seeded-big"));
  ASSERT_TRUE(seeded.has_value());
  EXPECT_TRUE(*seeded == TestBytes(kSize, 3));

  ASSERT_OK(pipeline::WriteKey(*store, "put-big", TestBytes(kSize, 4)));
  ASSERT_OK_AND_ASSIGN(auto put, pipeline::ReadKey(*store, "put-big"));
  ASSERT_TRUE(put.has_value());
  EXPECT_TRUE(*put == TestBytes(kSize, 4));
}

TEST_P(StoreConformanceTest, PutThenGetThenOverwriteWithShorterValue) {
  auto store = OpenArray("new-array");
  ASSERT_TRUE(store);
  ASSERT_OK(pipeline::WriteKey(*store, "0.0", TestBytes(5000, 1)));
  ASSERT_OK_AND_ASSIGN(auto first, pipeline::ReadKey(*store, "0.0"));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, TestBytes(5000, 1));

  ASSERT_OK(pipeline::WriteKey(*store, "0.0", TestBytes(17, 2)));
  ASSERT_OK_AND_ASSIGN(auto second, pipeline::ReadKey(*store, "0.0"));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, TestBytes(17, 2));
  EXPECT_EQ(std::filesystem::file_size(backend_->ArrayDir("new-array") / "0.0"), 17u);
  EXPECT_EQ(TempFilesUnder(backend_->ArrayDir("new-array")).size(), 0u);
}

TEST_P(StoreConformanceTest, ManyPutsThenOneGetMany) {
  constexpr size_t kKeys = 200;
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  DoneCounter puts;
  std::vector<std::string> keys;
  for (size_t i = 0; i < kKeys; ++i) {
    keys.push_back("p/" + std::to_string(i));
    store->Put(keys.back(), TestBytes(i * 3, i), puts.Callback());
  }
  ASSERT_TRUE(puts.WaitFor(kKeys));
  EXPECT_EQ(puts.failures(), std::vector<std::string>());
  ReadCollector reads(kKeys);
  store->GetMany(keys, 16, nullptr, reads.Callback());
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  for (size_t i = 0; i < kKeys; ++i) {
    const auto& r = reads.result(i);
    ASSERT_TRUE(r.ok() && r->has_value()) << keys[i];
    EXPECT_EQ(**r, TestBytes(i * 3, i)) << keys[i];
  }
}

TEST_P(StoreConformanceTest, RefusesKeysThatAreNotPlainRelativePaths) {
  WriteFileForTest(backend_->ArrayDir("x"), TestBytes(4, 1));  // what "../x" would reach
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  const std::vector<std::string> bad = {"../x", "/x",   "a//b", "a/./b", "",
                                        "a/",   "a/..", ".",    "..",    std::string("a\0b", 3)};
  ReadCollector reads(bad.size());
  store->GetMany(bad, 4, nullptr, reads.Callback());
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE("key \"" + bad[i] + "\"");
    EXPECT_EQ(reads.result(i).status().code(), StatusCode::kInvalidArgument);
    Status put = pipeline::WriteKey(*store, bad[i], TestBytes(3, 9));
    EXPECT_EQ(put.code(), StatusCode::kInvalidArgument);
    if (!bad[i].empty() && bad[i].find('\0') == std::string::npos) {
      EXPECT_NE(put.message().find(bad[i]), std::string::npos) << put.message();
    }
  }
  // Nothing was written anywhere: the array dir was never created, "../x" is untouched.
  EXPECT_FALSE(std::filesystem::exists(backend_->ArrayDir("a")));
  ASSERT_OK_AND_ASSIGN(auto x, pipeline::ReadKey(*OpenArray(""), "x"));
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(*x, TestBytes(4, 1));
}

TEST_P(StoreConformanceTest, CanceledBeforeStartReadsNothing) {
  std::vector<std::string> keys = SeedHalf("a", 50);
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  auto cancel = std::make_shared<CancelToken>();
  cancel->Cancel(CancelToken::Reason::kCanceled);
  ReadCollector reads(keys.size());
  store->GetMany(keys, 8, cancel, reads.Callback());
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(reads.result(i).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(reads.result(i).status().message(), "canceled");
  }
}

TEST_P(StoreConformanceTest, CanceledMidwayStopsStartingReads) {
  constexpr size_t kKeys = 2000;
  constexpr int kCancelAfter = 10;
  std::vector<std::string> keys = SeedHalf("a", kKeys);
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  auto cancel = std::make_shared<CancelToken>();
  ReadCollector reads(kKeys);
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto collect = reads.Callback();
  // One read in flight: after the 10th report, at most the one already started may complete.
  store->GetMany(keys, 1, cancel, [=](size_t i, ReadCollector::ReadResult r) {
    collect(i, std::move(r));
    if (seen->fetch_add(1) + 1 == kCancelAfter) cancel->Cancel(CancelToken::Reason::kCanceled);
  });
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  size_t canceled = 0;
  for (size_t i = 0; i < kKeys; ++i) {
    const auto& r = reads.result(i);
    if (!r.ok()) {
      EXPECT_EQ(r.status().message(), "canceled");
      ++canceled;
    }
  }
  EXPECT_GE(canceled, kKeys - kCancelAfter - 1);
  EXPECT_LT(canceled, kKeys);
}

TEST_P(StoreConformanceTest, ManyConcurrentGetManyCalls) {
  constexpr size_t kKeys = 200;
  constexpr int kCallers = 16;
  std::vector<std::string> keys = SeedHalf("a", kKeys);
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  std::vector<std::unique_ptr<ReadCollector>> reads;
  for (int c = 0; c < kCallers; ++c) reads.push_back(std::make_unique<ReadCollector>(kKeys));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back(
        [&, c] { store->GetMany(keys, 1 + c * 4, nullptr, reads[c]->Callback()); });
  }
  for (auto& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    SCOPED_TRACE("caller " + std::to_string(c));
    ASSERT_TRUE(reads[c]->WaitAll());
    EXPECT_EQ(reads[c]->ExactlyOnceViolations(), "");
    ExpectSeededHalf(*reads[c], kKeys);
  }
}

TEST_P(StoreConformanceTest, StoreAndRegistryDroppedWhileReadsAreInFlight) {
  constexpr size_t kKeys = 2000;
  std::vector<std::string> keys = SeedHalf("a", kKeys);
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  ReadCollector reads(kKeys);
  store->GetMany(keys, 64, nullptr, reads.Callback());
  store.reset();
  backend_->registry.reset();
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  ExpectSeededHalf(reads, kKeys);
}

TEST_P(StoreConformanceTest, StoreDroppedInsideItsOwnCallback) {
  std::vector<std::string> keys = SeedHalf("a", 100);
  auto store = OpenArray("a");
  ASSERT_TRUE(store);
  backend_->registry.reset();  // the store is now the last owner of its threads
  ReadCollector reads(keys.size());
  auto collect = reads.Callback();
  // The last callback holds the last reference and drops it on a store thread, which must then
  // not try to join itself. It waits for the test to drop its own reference first.
  struct Shared {
    std::shared_ptr<ChunkStore> store;
    std::mutex mu;
    std::condition_variable test_let_go;
    bool test_dropped = false;
    size_t calls = 0;
  };
  auto shared = std::make_shared<Shared>();
  shared->store = store;
  const size_t total = keys.size();
  store->GetMany(keys, 8, nullptr, [=](size_t i, ReadCollector::ReadResult r) {
    std::unique_lock lock(shared->mu);
    if (++shared->calls == total) {
      shared->test_let_go.wait_for(lock, std::chrono::seconds(30),
                                   [&] { return shared->test_dropped; });
      shared->store.reset();
    }
    lock.unlock();
    collect(i, std::move(r));
  });
  store.reset();
  {
    std::lock_guard lock(shared->mu);
    shared->test_dropped = true;
  }
  shared->test_let_go.notify_all();
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  ExpectSeededHalf(reads, keys.size());
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreConformanceTest, ::testing::ValuesIn(AllBackendKinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace batchd::testing
