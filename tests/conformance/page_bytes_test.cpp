// Issue 10, item 2(d): a read of the event log or of the batch list held every row the limit
// allowed, whatever their size (40 batches with 8 MiB names made one page of events 1.28 GB).
// Now a read also stops at a byte bound on the rows' text, after at least one row, and says
// that more follow (was tests/unit/storage/issue10_page_bytes_test.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/conformance/conformance_fixture.h"

namespace batchd::storage::conformance {
namespace {

using storage::testing::Await;
using storage::testing::MakeBatch;

class PageBytesTest : public StoreConformanceTest {
 protected:
  void SetUp() override {
    StoreConformanceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Open());
  }

  // A batch named with `name_bytes` bytes, canceled at once: enqueued, state, finished events.
  std::string CreateNamed(size_t name_bytes, char fill) {
    NewBatch b = MakeBatch(1);
    b.name = std::string(name_bytes, fill);
    Result<BatchCreated> created =
        Await<BatchCreated>([&](auto cb) { store().CreateBatch(std::move(b), cb); });
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (!created.ok()) return "";
    EXPECT_TRUE(
        Await<BatchRecord>([&](auto cb) { store().CancelBatch(created->public_id, cb); }).ok());
    return created->public_id;
  }

  Page<BatchRecord> List(BatchListQuery q) {
    Result<Page<BatchRecord>> r =
        Await<Page<BatchRecord>>([&](auto cb) { store().ListBatches(q, cb); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Page<BatchRecord>{};
  }
};

TEST_P(PageBytesTest, EventReadsStopAtTheByteBoundAndEveryEventIsReadOnce) {
  constexpr size_t kName = 10'000;
  for (int i = 0; i < 6; ++i) CreateNamed(kName, static_cast<char>('a' + i));
  // Events become readable once stored and numbered, which may follow the calls' answers.
  EXPECT_TRUE(Eventually([&] { return Read({.limit = 1000}).events.size() >= 18; }));
  const EventPage all = Read({.limit = 1000});
  ASSERT_GE(all.events.size(), 18u) << "enqueued, state and finished per batch";
  ASSERT_FALSE(all.more);

  // Each batch event holds a 10,000-byte name: a bound of 25,000 bytes fits two of them.
  std::vector<int64_t> seen;
  EventQuery q{.limit = 1000, .max_bytes = 25'000};
  for (int pages = 0; pages < 100; ++pages) {
    const EventPage page = Read(q);
    size_t names = 0;
    for (const EventRecord& e : page.events) names += e.batch_name.size();
    EXPECT_LE(names, 25'000u);
    ASSERT_FALSE(page.events.empty());
    for (const EventRecord& e : page.events) seen.push_back(e.seq);
    if (!page.more) break;
    q.after_seq = page.events.back().seq;
  }
  std::vector<int64_t> expected;
  for (const EventRecord& e : all.events) expected.push_back(e.seq);
  EXPECT_EQ(seen, expected);

  // A single event larger than the bound is still read, alone, so a reader always advances.
  const EventPage one = Read({.limit = 1000, .max_bytes = 100});
  ASSERT_EQ(one.events.size(), 1u);
  EXPECT_TRUE(one.more);
  EXPECT_EQ(one.events[0].seq, all.events[0].seq);
  // ?tail keeps the newest.
  const EventPage tail = Read({.limit = 1000, .tail = true, .max_bytes = 100});
  ASSERT_EQ(tail.events.size(), 1u);
  EXPECT_TRUE(tail.more);
  EXPECT_EQ(tail.events[0].seq, all.events.back().seq);
}

TEST_P(PageBytesTest, BatchListsStopAtTheByteBoundWithACursorAfterTheLastBatch) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(CreateNamed(10'000, static_cast<char>('a' + i)));
  std::vector<std::string> seen;
  BatchListQuery q{.limit = 1000, .max_bytes = 25'000};
  for (int pages = 0; pages < 100; ++pages) {
    const Page<BatchRecord> page = List(q);
    ASSERT_FALSE(page.items.empty());
    EXPECT_LE(page.items.size(), 2u);
    for (const BatchRecord& b : page.items) seen.push_back(b.public_id);
    if (!page.next_cursor) break;
    EXPECT_EQ(*page.next_cursor, page.items.back().id);
    q.before_id = page.next_cursor;
  }
  // Newest first.
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));

  const Page<BatchRecord> one = List({.limit = 1000, .max_bytes = 10});
  ASSERT_EQ(one.items.size(), 1u);
  EXPECT_EQ(one.items[0].public_id, ids.back());
  EXPECT_TRUE(one.next_cursor.has_value());
}

BATCHD_FOR_EVERY_STORE(PageBytesTest);

}  // namespace
}  // namespace batchd::storage::conformance
