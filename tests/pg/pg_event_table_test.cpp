// The event table's statements without the hub's threads: append, the sequencer pass, replay
// reads, retention slices, and the stop payloads.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/pg/pg_event_sequencer.h"
#include "storage/pg/pg_event_table.h"
#include "storage/pg/pg_events.h"
#include "storage/pg/pg_remote_stop.h"
#include "tests/pg/pg_event_hub_harness.h"

namespace batchd::storage::pg {
namespace {

using testing::CommitEvents;
using testing::MarkerEvent;

class PgEventTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uri_ = testing::MigratedPgDatabaseUri();
    ASSERT_FALSE(uri_.empty());
    auto conn = PgConnection::Open(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
  }

  // Passes until the backlog is numbered.
  void SequenceAll() {
    while (true) {
      auto n = RunSequencerPass(*conn_, 1000);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) return;
    }
  }

  std::string uri_;
  std::unique_ptr<PgConnection> conn_;
};

TEST_F(PgEventTableTest, EveryFieldRoundTrips) {
  EventRecord e;
  e.time_ms = 1'700'000'000'123;
  e.type = EventType::kBatchProgress;
  e.batch_public_id = "b-1";
  e.session_id = 7;
  e.batch_name = "name with 'quotes' and \\ backslash";
  e.from = "queued";
  e.to = "running";
  e.counts = SessionCounts{1, 2, 3, 4, 5};
  e.sessions = 15;
  e.finished_at_ms = 99;
  e.attempt = 2;
  e.error_kind = "op";
  e.error_message = "line\nbreak";
  e.retry_at_ms = 1234;
  e.sessions_per_s = 0.1;
  e.eta_s = 1e300;
  e.chunks_per_s = 3.25;
  e.bytes_per_s = 123456789.5;
  e.suppressed_session_events = 3;
  e.chunks_done = 10;
  e.chunks_total = 20;
  e.bytes_done = 4096;
  e.done_ranges = std::vector<ChunkRange>{{0, 5}, {7, 8}, {10, 12}};
  CommitEvents(*conn_, {e});
  SequenceAll();
  auto page = ReadEvents(*conn_, {});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->events.size(), 1u);
  const EventRecord& r = page->events[0];
  EXPECT_EQ(r.seq, 1);
  EXPECT_EQ(r.time_ms, e.time_ms);
  EXPECT_EQ(r.type, e.type);
  EXPECT_EQ(r.batch_public_id, e.batch_public_id);
  EXPECT_EQ(r.session_id, e.session_id);
  EXPECT_EQ(r.batch_name, e.batch_name);
  EXPECT_EQ(r.from, e.from);
  EXPECT_EQ(r.to, e.to);
  EXPECT_EQ(r.counts, e.counts);
  EXPECT_EQ(r.sessions, e.sessions);
  EXPECT_EQ(r.finished_at_ms, e.finished_at_ms);
  EXPECT_EQ(r.attempt, e.attempt);
  EXPECT_EQ(r.error_kind, e.error_kind);
  EXPECT_EQ(r.error_message, e.error_message);
  EXPECT_EQ(r.retry_at_ms, e.retry_at_ms);
  EXPECT_EQ(r.sessions_per_s, e.sessions_per_s);
  EXPECT_EQ(r.eta_s, e.eta_s);
  EXPECT_EQ(r.chunks_per_s, e.chunks_per_s);
  EXPECT_EQ(r.bytes_per_s, e.bytes_per_s);
  EXPECT_EQ(r.suppressed_session_events, e.suppressed_session_events);
  EXPECT_EQ(r.chunks_done, e.chunks_done);
  EXPECT_EQ(r.chunks_total, e.chunks_total);
  EXPECT_EQ(r.bytes_done, e.bytes_done);
  EXPECT_EQ(r.done_ranges, e.done_ranges);
}

TEST_F(PgEventTableTest, UnsequencedRowsAreInvisibleAndPassesNumberThemInIdOrder) {
  std::vector<EventRecord> events;
  for (int i = 1; i <= 25; ++i) events.push_back(MarkerEvent("b", i));
  CommitEvents(*conn_, events);
  auto page = ReadEvents(*conn_, {});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->latest_seq, 0);
  EXPECT_EQ(page->oldest_seq, 1);
  auto latest = LatestEventSeq(*conn_);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, 0);

  // A pass numbers at most its limit; the next one goes on from there.
  for (int64_t expected : {10, 10, 5, 0}) {
    auto n = RunSequencerPass(*conn_, 10);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, expected);
  }
  std::vector<EventRecord> all = testing::ReadAll(*conn_);
  ASSERT_EQ(all.size(), 25u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(all[i].session_id, static_cast<int64_t>(i) + 1);  // id order
  }
  latest = LatestEventSeq(*conn_);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, 25);
}

TEST_F(PgEventTableTest, RowsOfARolledBackTransactionNeverGetANumber) {
  {
    PgTransaction tx(*conn_);
    ASSERT_TRUE(tx.begun().ok());
    const EventRecord e = MarkerEvent("gone", 1);
    ASSERT_TRUE(AppendEvents(*conn_, {&e, 1}).ok());
  }  // rolled back
  CommitEvents(*conn_, {MarkerEvent("kept", 2)});
  SequenceAll();
  std::vector<EventRecord> all = testing::ReadAll(*conn_);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].batch_public_id, "kept");
  EXPECT_EQ(all[0].seq, 1);
}

TEST_F(PgEventTableTest, ReadEventsFiltersLimitsAndTails) {
  std::vector<EventRecord> events;
  for (int i = 1; i <= 20; ++i) {
    EventRecord e = MarkerEvent(i % 2 == 0 ? "even" : "odd", i);
    if (i % 5 == 0) e.type = EventType::kSessionProgress;
    events.push_back(e);
  }
  CommitEvents(*conn_, events);
  SequenceAll();

  auto even = ReadEvents(*conn_, {.batch_public_id = "even", .limit = 3});
  ASSERT_TRUE(even.ok());
  ASSERT_EQ(even->events.size(), 3u);
  EXPECT_TRUE(even->more);
  EXPECT_EQ(even->events[0].seq, 2);
  EXPECT_EQ(even->events[2].seq, 6);
  EXPECT_EQ(even->latest_seq, 20);
  EXPECT_EQ(even->oldest_seq, 1);

  auto after = ReadEvents(*conn_, {.after_seq = 16, .batch_public_id = "even"});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->events.size(), 2u);
  EXPECT_FALSE(after->more);
  EXPECT_EQ(after->events[0].seq, 18);

  auto session = ReadEvents(*conn_, {.session_id = 7});
  ASSERT_TRUE(session.ok());
  ASSERT_EQ(session->events.size(), 1u);
  EXPECT_EQ(session->events[0].seq, 7);

  auto progress = ReadEvents(*conn_, {.types = {EventType::kSessionProgress}});
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ(progress->events.size(), 4u);
  for (const EventRecord& e : progress->events) EXPECT_EQ(e.seq % 5, 0);

  auto two_types = ReadEvents(
      *conn_, {.types = {EventType::kSessionProgress, EventType::kSessionState}, .limit = 100});
  ASSERT_TRUE(two_types.ok());
  EXPECT_EQ(two_types->events.size(), 20u);

  auto tail = ReadEvents(*conn_, {.batch_public_id = "odd", .limit = 2, .tail = true});
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->events.size(), 2u);
  EXPECT_TRUE(tail->more);
  EXPECT_EQ(tail->events[0].seq, 17);  // the newest two, oldest first
  EXPECT_EQ(tail->events[1].seq, 19);

  auto none = ReadEvents(*conn_, {.batch_public_id = "nobody"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->events.empty());
  EXPECT_FALSE(none->more);
}

TEST_F(PgEventTableTest, MaxBytesEndsThePageButAlwaysHoldsOneEvent) {
  std::vector<EventRecord> events;
  for (int i = 1; i <= 5; ++i) {
    EventRecord e = MarkerEvent("b", i);
    e.error_message = std::string(1000, 'x');
    events.push_back(e);
  }
  CommitEvents(*conn_, events);
  SequenceAll();
  auto page = ReadEvents(*conn_, {.max_bytes = 2500});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 2u);
  EXPECT_TRUE(page->more);
  auto one = ReadEvents(*conn_, {.after_seq = 2, .max_bytes = 10});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->events.size(), 1u);  // over the bound alone, still returned
  EXPECT_EQ(one->events[0].seq, 3);
  EXPECT_TRUE(one->more);
  auto tail = ReadEvents(*conn_, {.tail = true, .max_bytes = 2500});
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->events.size(), 2u);  // the newest kept
  EXPECT_EQ(tail->events[0].seq, 4);
  EXPECT_EQ(tail->events[1].seq, 5);
}

TEST_F(PgEventTableTest, RetentionDeletesTheOldestInSlicesWithinItsLimits) {
  std::vector<EventRecord> events;
  for (int i = 1; i <= 30; ++i) {
    EventRecord e = MarkerEvent("b", i);
    e.time_ms = i <= 20 ? 1000 : 5000;  // the first 20 are old
    events.push_back(e);
  }
  CommitEvents(*conn_, events);
  SequenceAll();
  // Never past what the follower delivered.
  auto deleted = DeleteExpiredEvents(
      *conn_, {.max_events = 100, .min_time_ms = 2000, .max_delete = 100, .delivered_seq = 5});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 5);
  // One slice at a time.
  deleted = DeleteExpiredEvents(
      *conn_, {.max_events = 100, .min_time_ms = 2000, .max_delete = 4, .delivered_seq = 30});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 4);
  // The rest of the old ones by age.
  deleted = DeleteExpiredEvents(
      *conn_, {.max_events = 100, .min_time_ms = 2000, .max_delete = 100, .delivered_seq = 30});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 11);
  // By count.
  deleted = DeleteExpiredEvents(
      *conn_, {.max_events = 4, .min_time_ms = 0, .max_delete = 100, .delivered_seq = 30});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 6);
  auto page = ReadEvents(*conn_, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->oldest_seq, 27);
  EXPECT_EQ(page->latest_seq, 30);
  EXPECT_EQ(page->events.size(), 4u);
  // All too old: the log empties, and its extent still says where it stood.
  deleted = DeleteExpiredEvents(
      *conn_,
      {.max_events = 100, .min_time_ms = 1'000'000, .max_delete = 100, .delivered_seq = 30});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 4);
  page = ReadEvents(*conn_, {});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->oldest_seq, 31);
  EXPECT_EQ(page->latest_seq, 30);
  auto latest = LatestEventSeq(*conn_);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, 30);
  // An empty log: nothing to do; the next event gets a new number.
  deleted = DeleteExpiredEvents(*conn_, {.max_events = 0, .delivered_seq = 30});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  CommitEvents(*conn_, {MarkerEvent("b", 31)});
  SequenceAll();
  page = ReadEvents(*conn_, {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].seq, 31);
}

TEST(PgRemoteStopTest, PayloadsRoundTripAndMalformedOnesAreRefused) {
  auto session = ParseRemoteStopPayload(RemoteStopPayload({.session_id = 42}));
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->session_id, 42);
  EXPECT_FALSE(session->batch_public_id.has_value());
  auto batch = ParseRemoteStopPayload(RemoteStopPayload({.batch_public_id = "b-x"}));
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->batch_public_id, "b-x");
  EXPECT_FALSE(batch->session_id.has_value());
  for (const char* bad : {"", "session:", "session:abc", "session:12x", "session:-3",
                          "batch:", "stop:1", "session"}) {
    EXPECT_FALSE(ParseRemoteStopPayload(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace batchd::storage::pg
