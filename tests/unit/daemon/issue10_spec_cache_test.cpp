// Issue 10, item 2(c): the spec cache kept 256 parsed specs whatever their size, and a batch of
// 333k ten-deep nested items held 200-400 MB after it was canceled and deleted. Now the cache is
// bounded by the estimated memory of its parsed specs.
#include "daemon/spec_cache.h"

#include <gtest/gtest.h>

#include "storage_test_util.h"

namespace batchd::daemon {
namespace {

// A batch whose one datum holds `items` objects nested `depth` deep.
std::string NestedBatch(int items, int depth) {
  std::string item = "1";
  for (int d = 0; d < depth; ++d) item = "{\"k\": " + item + "}";
  std::string list;
  for (int i = 0; i < items; ++i) list += (i ? "," : "") + item;
  return R"({"name": "nested", "template": {"op": "noop", "x": 0},
             "data": [[{"field": "/x", "items": [)" +
         list + "]}]]}";
}

TEST(SpecCacheMemoryTest, TheEstimateGrowsWithTheTreeNotTheText) {
  Result<BatchSpec> small = ParseBatchSpec(NestedBatch(10, 10), {});
  Result<BatchSpec> big = ParseBatchSpec(NestedBatch(10'000, 10), {});
  ASSERT_TRUE(small.ok() && big.ok());
  const size_t small_bytes = SpecMemoryBytes(*small), big_bytes = SpecMemoryBytes(*big);
  EXPECT_GT(big_bytes, 900 * small_bytes);
  // Ten nested objects per item: each a node with one member, so well over 1 KB an item.
  EXPECT_GT(big_bytes, size_t{10'000} * 10 * 64);
}

class SpecCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<storage::Store>> s =
        storage::OpenSqliteStore({.db_path = dir_.path() / "batchd.db"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    if (store_) store_->Close();
  }
  storage::BatchCreated Create(const std::string& json) {
    storage::NewBatch b = storage::testing::MakeBatch(1);
    b.spec_json = json;
    Result<storage::BatchCreated> created = storage::testing::Await<storage::BatchCreated>(
        [&](auto done) { store_->CreateBatch(b, std::move(done)); });
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : storage::BatchCreated{};
  }
  storage::Store& store() { return *store_; }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(SpecCacheTest, TheCacheStaysWithinItsBudgetWhateverTheSpecs) {
  std::vector<storage::BatchCreated> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Create(NestedBatch(2'000, 10)));
  Result<BatchSpec> one = ParseBatchSpec(NestedBatch(2'000, 10), {});
  ASSERT_TRUE(one.ok());
  const size_t each = SpecMemoryBytes(*one);
  SpecCache cache(store(), 3 * each + each / 2);  // room for three
  for (const storage::BatchCreated& b : ids) {
    Result<std::shared_ptr<const BatchSpec>> spec = cache.Get(b.id, b.public_id);
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    EXPECT_LE(cache.bytes(), 3 * each + each / 2);
  }
  EXPECT_EQ(cache.entries(), 3u);
  // The most recent are kept; a spec larger than the whole budget is served, not kept.
  SpecCache tiny(store(), each / 2);
  ASSERT_TRUE(tiny.Get(ids[0].id, ids[0].public_id).ok());
  EXPECT_EQ(tiny.entries(), 0u);
  EXPECT_EQ(tiny.bytes(), 0u);
}

// The remainder of item 2(c): a deleted batch's spec is dropped at once, not when the
// least-recently-used order reaches it (a big spec could otherwise stay for as long as the
// daemon gets no other batch).
TEST_F(SpecCacheTest, ForgettingADeletedBatchDropsItsSpecAndNoOther) {
  const storage::BatchCreated a = Create(NestedBatch(2'000, 10));
  const storage::BatchCreated b = Create(NestedBatch(10, 2));
  SpecCache cache(store(), size_t{64} << 20);
  Result<std::shared_ptr<const BatchSpec>> held = cache.Get(a.id, a.public_id);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_TRUE(cache.Get(b.id, b.public_id).ok());
  ASSERT_EQ(cache.entries(), 2u);
  const size_t both = cache.bytes();

  cache.Forget(a.public_id);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), both - SpecMemoryBytes(**held));
  cache.Forget(a.public_id);         // twice: nothing more
  cache.Forget("0000000000000000");  // never cached: nothing
  EXPECT_EQ(cache.entries(), 1u);
  // The spec handed out before stays valid for its holder.
  EXPECT_EQ((*held)->name, "nested");

  cache.Forget(b.public_id);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  // A batch asked for again (retried before its delete, say) is simply fetched again.
  ASSERT_TRUE(cache.Get(b.id, b.public_id).ok());
  EXPECT_EQ(cache.entries(), 1u);
}

}  // namespace
}  // namespace batchd::daemon
