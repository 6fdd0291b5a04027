// The event log's small parts on their own: chunk range text, the sliding rate, and the
// session-event policy with its token bucket.
#include <gtest/gtest.h>

#include <SQLiteCpp/Database.h>

#include "storage/event_record.h"
#include "storage/event_table.h"
#include "storage/migrations.h"
#include "storage/rate_window.h"
#include "storage/session_event_policy.h"

namespace batchd::storage {
namespace {

TEST(ChunkRangesTest, RoundTripsAndReadsLikeAHuman) {
  const std::vector<ChunkRange> ranges = {{0, 100}, {120, 121}, {122, 128}};
  const std::string text = EncodeChunkRanges(ranges);
  EXPECT_EQ(text, "0-99,120,122-127");
  EXPECT_EQ(DecodeChunkRanges(text), ranges);
  EXPECT_EQ(EncodeChunkRanges({}), "");
  EXPECT_EQ(DecodeChunkRanges(""), std::vector<ChunkRange>{});
  EXPECT_EQ(EncodeChunkRanges({{5, 5}, {7, 3}}), "") << "empty and reversed ranges are skipped";
}

TEST(ChunkRangesTest, RejectsWhatIsNotAList) {
  for (const char* bad : {"x", "1-", "5-2", "1,,2", "1,", "-3", "1-2-3", "1 2"}) {
    EXPECT_FALSE(DecodeChunkRanges(bad)) << bad;
  }
}

TEST(EventTypeTest, NamesRoundTrip) {
  for (int i = 0; i < kEventTypeCount; ++i) {
    const auto type = static_cast<EventType>(i);
    EXPECT_EQ(ParseEventType(EventTypeName(type)), type);
  }
  EXPECT_FALSE(ParseEventType("batch.exploded"));
  EXPECT_FALSE(ParseEventType(""));
}

TEST(RateWindowTest, MeasuresOverTheWindowAndRestartsWhenTheCounterDrops) {
  RateWindow w(1000);
  EXPECT_FALSE(w.Observe(0, 10'000)) << "one sample has no rate";
  EXPECT_DOUBLE_EQ(*w.Observe(50, 10'500), 100.0);
  EXPECT_DOUBLE_EQ(*w.Observe(100, 11'000), 100.0);
  // Old samples leave the window: the rate follows the recent pace.
  EXPECT_DOUBLE_EQ(*w.Observe(100, 12'000), 0.0);
  EXPECT_DOUBLE_EQ(*w.Observe(400, 12'500), 300.0 * 1000 / 1500) << "from the sample at 11 s";
  EXPECT_FALSE(w.Observe(10, 13'000)) << "a retry lowered the counter: start again";
  EXPECT_DOUBLE_EQ(*w.Observe(30, 13'100), 200.0);
}

TEST(SessionEventPolicyTest, SmallBatchesErrorsAndRequestsAreInterestingTheRestIsNot) {
  SessionEventPolicy p({.every_transition_max_sessions = 10, .max_per_second = 1000});
  using V = SessionEventPolicy::Verdict;
  EXPECT_EQ(p.Judge(10, false, false, 1000), V::kEmit);
  EXPECT_EQ(p.Judge(11, false, false, 1000), V::kIgnore);
  EXPECT_EQ(p.Judge(1'000'000, true, false, 1000), V::kEmit);
  EXPECT_EQ(p.Judge(1'000'000, false, true, 1000), V::kEmit);
}

TEST(SessionEventPolicyTest, TheRateLimitSuppressesThenRefills) {
  SessionEventPolicy p({.every_transition_max_sessions = 0, .max_per_second = 3});
  using V = SessionEventPolicy::Verdict;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.Judge(5, true, false, 1000), V::kEmit);
  EXPECT_EQ(p.Judge(5, true, false, 1000), V::kSuppress);
  EXPECT_EQ(p.Judge(5, false, false, 1000), V::kIgnore) << "uninteresting is not counted";
  EXPECT_EQ(p.Judge(5, true, false, 1400), V::kEmit) << "0.4 s refills one token";
  EXPECT_EQ(p.Judge(5, true, false, 1400), V::kSuppress);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.Judge(5, true, false, 9000), V::kEmit);
  EXPECT_EQ(p.Judge(5, true, false, 9000), V::kSuppress) << "the bucket holds one second";
}

TEST(EventTableTest, RetentionBoundsByCountAndAgeInSlicesAndSparesUnpublishedEvents) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  ASSERT_TRUE(ApplyMigrations(db).ok());
  EventAppender append(db);
  for (int i = 1; i <= 10; ++i) {
    append.Append({.time_ms = i * 1000, .type = EventType::kBatchState, .batch_public_id = "b"});
  }
  auto count = [&] { return db.execAndGet("SELECT count(*) FROM event").getInt64(); };
  auto oldest = [&] { return db.execAndGet("SELECT min(seq) FROM event").getInt64(); };

  // Keep 2, but only 5 are published: events 6..10 stay until they are.
  EXPECT_EQ(DeleteExpiredEvents(db, 2, 0, 100, 5), 5);
  EXPECT_EQ(oldest(), 6);
  // Published now; at most 2 rows per call.
  EXPECT_EQ(DeleteExpiredEvents(db, 2, 0, 2, 10), 2);
  EXPECT_EQ(DeleteExpiredEvents(db, 2, 0, 2, 10), 1);
  EXPECT_EQ(count(), 2);
  EXPECT_EQ(DeleteExpiredEvents(db, 2, 0, 2, 10), 0) << "nothing more to do";
  // By age: events older than 10 s go, whatever the count allows.
  EXPECT_EQ(DeleteExpiredEvents(db, 100, 10'000, 100, 10), 1);
  EXPECT_EQ(oldest(), 10);
  EXPECT_EQ(DeleteExpiredEvents(db, 100, 20'000, 100, 10), 1);
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(DeleteExpiredEvents(db, 100, 20'000, 100, 10), 0) << "an empty log is fine";
  EXPECT_EQ(LatestEventSeq(db), 10) << "the high-water mark survives";
}

}  // namespace
}  // namespace batchd::storage
