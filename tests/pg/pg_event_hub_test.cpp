// The event hub with its threads: several hubs ("nodes") on one database, writers committing
// and rolling back at once, batch triggers, remote stops, progress coalescing, retention and a
// reconnect after the server dropped the hub's connections.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/pg/pg_events.h"
#include "storage/pg/pg_migrations.h"
#include "tests/pg/pg_event_hub_harness.h"
#include "tests/support/manual_clock.h"

namespace batchd::storage::pg {
namespace {

using testing::HubRecorder;
using testing::MarkerEvent;
using testing::PollUntil;

std::vector<int64_t> SeqsOf(const std::vector<EventRecord>& events) {
  std::vector<int64_t> seqs;
  for (const EventRecord& e : events) seqs.push_back(e.seq);
  return seqs;
}

std::vector<EventRecord> OfType(const std::vector<EventRecord>& events, EventType type) {
  std::vector<EventRecord> out;
  for (const EventRecord& e : events) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

std::unique_ptr<PgConnection> Connect(const std::string& uri) {
  auto conn = PgConnection::Open(uri);
  EXPECT_TRUE(conn.ok()) << conn.status().ToString();
  return conn.ok() ? std::move(conn).value() : nullptr;
}

TEST(PgEventHubTest, TwoNodesDeliverTheSameSequenceOfEveryCommittedEventExactlyOnce) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder a;
  HubRecorder b;
  auto hub_a = testing::StartHub(uri, a);
  auto hub_b = testing::StartHub(uri, b);
  ASSERT_TRUE(hub_a && hub_b);

  // Each writer commits transactions of 1-3 events and rolls back every fifth. An event's
  // session id is writer * 1e6 + transaction * 10 + its index in the transaction.
  constexpr int kWriters = 8;
  constexpr int kTransactions = 100;
  std::vector<std::set<int64_t>> committed(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto conn = Connect(uri);
      ASSERT_TRUE(conn);
      for (int t = 0; t < kTransactions; ++t) {
        std::vector<EventRecord> events;
        for (int i = 0; i < 1 + (t + w) % 3; ++i) {
          events.push_back(MarkerEvent("w" + std::to_string(w), w * 1'000'000 + t * 10 + i));
        }
        PgTransaction tx(*conn);
        ASSERT_TRUE(tx.begun().ok());
        ASSERT_TRUE(AppendEvents(*conn, events).ok());
        if (t % 5 == 4) continue;  // rolled back by the destructor
        ASSERT_TRUE(tx.Commit().ok());
        for (const EventRecord& e : events) committed[w].insert(*e.session_id);
      }
    });
  }
  for (auto& t : writers) t.join();
  size_t total = 0;
  std::set<int64_t> all_committed;
  for (const auto& c : committed) {
    total += c.size();
    all_committed.insert(c.begin(), c.end());
  }
  ASSERT_GT(total, 0u);

  PollUntil([&] { return a.EventCount() >= total && b.EventCount() >= total; });
  hub_a->Stop();
  hub_b->Stop();
  const std::vector<EventRecord> seen_a = a.Events();
  const std::vector<EventRecord> seen_b = b.Events();
  EXPECT_EQ(seen_a.size(), total);  // nothing twice, nothing rolled back
  EXPECT_EQ(SeqsOf(seen_a), SeqsOf(seen_b));
  EXPECT_EQ(a.overlapping_calls(), 0);
  EXPECT_EQ(b.overlapping_calls(), 0);

  std::set<int64_t> delivered;
  std::map<int64_t, int64_t> last_of_writer;  // writer -> last marker seen, in seq order
  for (size_t i = 0; i < seen_a.size(); ++i) {
    const EventRecord& e = seen_a[i];
    if (i > 0) {
      EXPECT_LT(seen_a[i - 1].seq, e.seq);
    }
    EXPECT_EQ(e.session_id, seen_b[i].session_id);
    EXPECT_TRUE(delivered.insert(*e.session_id).second) << "twice: " << *e.session_id;
    // One writer's commits keep their order, and a transaction's rows keep theirs.
    const int64_t writer = *e.session_id / 1'000'000;
    auto [it, first] = last_of_writer.emplace(writer, *e.session_id);
    if (!first) {
      EXPECT_LT(it->second, *e.session_id);
      it->second = *e.session_id;
    }
  }
  EXPECT_EQ(delivered, all_committed);

  // The listeners saw exactly what a replay from the start reads: no gap, no extra.
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  EXPECT_EQ(SeqsOf(testing::ReadAll(*conn)), SeqsOf(seen_a));
}

TEST(PgEventHubTest, ANodeStartingLateGetsOnlyNewEventsAndTheSameOnesAsTheOthers) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder early;
  auto hub_early = testing::StartHub(uri, early);
  ASSERT_TRUE(hub_early);
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  testing::CommitEvents(*conn, {MarkerEvent("b", 1), MarkerEvent("b", 2)});
  PollUntil([&] { return early.EventCount() == 2; });

  HubRecorder late;
  auto hub_late = testing::StartHub(uri, late);
  ASSERT_TRUE(hub_late);
  EXPECT_EQ(hub_late->DeliveredSeq(), 2);
  testing::CommitEvents(*conn, {MarkerEvent("b", 3)});
  PollUntil([&] { return early.EventCount() == 3 && late.EventCount() == 1; });
  hub_early->Stop();
  hub_late->Stop();
  ASSERT_EQ(late.Events().size(), 1u);
  EXPECT_EQ(late.Events()[0].session_id, 3);
  EXPECT_EQ(late.Events()[0].seq, early.Events()[2].seq);
}

TEST(PgEventHubTest, BatchTriggerEventsAreSequencedAndDelivered) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder rec;
  auto hub = testing::StartHub(uri, rec);
  ASSERT_TRUE(hub);
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  testing::InsertBatchRow(*conn, "b-trig", "enqueuing", 4, 4);
  ASSERT_TRUE(conn->Run("UPDATE batch SET state = 'queued' WHERE public_id = 'b-trig'").ok());
  ASSERT_TRUE(conn->Run("UPDATE batch SET state = 'canceled', n_uninitialized = 0, "
                        "n_canceled = 4, finished_at = 5 WHERE public_id = 'b-trig'")
                  .ok());
  PollUntil([&] { return rec.EventCount() == 3; });
  const std::vector<EventRecord> events = rec.Events();
  EXPECT_EQ(events[0].type, EventType::kBatchEnqueued);
  EXPECT_EQ(events[1].type, EventType::kBatchState);
  EXPECT_EQ(events[1].from, "queued");
  EXPECT_EQ(events[1].to, "canceled");
  EXPECT_EQ(events[2].type, EventType::kBatchFinished);
  ASSERT_TRUE(events[2].counts.has_value());
  EXPECT_EQ(events[2].counts->canceled, 4);
  EXPECT_EQ(events[2].finished_at_ms, 5);
  for (const EventRecord& e : events) EXPECT_EQ(e.batch_public_id, "b-trig");
}

TEST(PgEventHubTest, AStopNotifiedByOneNodeReachesTheOthers) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder a;
  HubRecorder b;
  auto hub_a = testing::StartHub(uri, a);
  auto hub_b = testing::StartHub(uri, b);
  ASSERT_TRUE(hub_a && hub_b);
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  // Malformed payloads first: they are ignored, and the valid ones after them arrive.
  for (const char* payload : {"nonsense", "session:x", "session:42", "batch:b-stop"}) {
    ASSERT_TRUE(conn->Run("SELECT pg_notify('batchd_stop', $1)", {PgParam::Text(payload)}).ok());
  }
  PollUntil([&] { return a.Stops().size() >= 2 && b.Stops().size() >= 2; });
  for (HubRecorder* rec : {&a, &b}) {
    const std::vector<RemoteStop> stops = rec->Stops();
    ASSERT_EQ(stops.size(), 2u);
    EXPECT_EQ(stops[0].session_id, 42);
    EXPECT_FALSE(stops[0].batch_public_id.has_value());
    EXPECT_EQ(stops[1].batch_public_id, "b-stop");
    EXPECT_FALSE(stops[1].session_id.has_value());
  }
}

TEST(PgEventHubTest, StopsArriveWhileTheSequencerWaitsForItsLockAndPassesWaitForIt) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder rec;
  auto hub = testing::StartHub(uri, rec);
  ASSERT_TRUE(hub);
  // Another "node" holds the sequencer's lock (as a long pass would).
  auto holder = Connect(uri);
  ASSERT_TRUE(holder);
  ASSERT_TRUE(holder->Run("SELECT pg_advisory_lock($1)", {PgParam::Int(kSequencerLockKey)}).ok());
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  testing::CommitEvents(*conn, {MarkerEvent("b", 1)});
  // The hub's pass now waits for the lock; a stop still gets through.
  ASSERT_TRUE(conn->Run("SELECT pg_notify('batchd_stop', 'batch:b-1')").ok());
  PollUntil([&] { return rec.Stops().size() == 1; });
  auto numbered = conn->Exec("SELECT count(*) FROM event WHERE seq IS NOT NULL");
  ASSERT_TRUE(numbered.ok());
  EXPECT_EQ(numbered->Int(0, 0), 0);  // nothing numbered behind the holder's back
  // Released: the waiting pass numbers the row, without a new notification.
  ASSERT_TRUE(holder->Run("SELECT pg_advisory_unlock($1)", {PgParam::Int(kSequencerLockKey)}).ok());
  PollUntil([&] { return rec.EventCount() == 1; });
  hub->Stop();
  EXPECT_EQ(rec.Stops()[0].batch_public_id, "b-1");
  EXPECT_EQ(rec.Events()[0].session_id, 1);
}

TEST(PgEventHubTest, LiveProgressIsWrittenAtMostOncePerSessionPerInterval) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  testing::InsertBatchRow(*conn, "b-prog", "running", 10, 8);
  std::atomic<int64_t> steady{1'000'000};
  HubRecorder rec;
  EventLogOptions options;
  options.progress_interval = std::chrono::milliseconds(100);
  auto hub = testing::StartHub(uri, rec, options, UnixMillis, [&] { return steady.load(); });
  ASSERT_TRUE(hub);
  auto report = [&](int64_t session, int64_t chunks) {
    hub->ReportLiveProgress({.session_id = session,
                             .batch_public_id = "b-prog",
                             .chunks_done = chunks,
                             .chunks_total = 100,
                             .bytes_done = chunks * 10,
                             .done_ranges = std::vector<ChunkRange>{{0, chunks}}});
  };
  // One session first: the first round starts at once and holds just this report.
  report(1, 1);
  PollUntil([&] { return OfType(rec.Events(), EventType::kSessionProgress).size() == 1; });
  // Within the interval (the steady clock does not move) no round starts: only the latest
  // report per session waits.
  report(1, 2);
  report(1, 3);
  report(2, 5);
  report(3, 7);
  steady.fetch_add(100);  // one interval: one round, with all that waits
  PollUntil([&] { return OfType(rec.Events(), EventType::kSessionProgress).size() >= 4; });
  hub->Stop();
  const std::vector<EventRecord> progress = OfType(rec.Events(), EventType::kSessionProgress);
  ASSERT_EQ(progress.size(), 4u);
  std::map<int64_t, std::vector<int64_t>> chunks_of;
  for (const EventRecord& e : progress) chunks_of[*e.session_id].push_back(*e.chunks_done);
  EXPECT_EQ(chunks_of[1], (std::vector<int64_t>{1, 3}));  // 2 was replaced before it was written
  EXPECT_EQ(chunks_of[2], (std::vector<int64_t>{5}));
  EXPECT_EQ(chunks_of[3], (std::vector<int64_t>{7}));
  auto third = std::find_if(progress.begin(), progress.end(),
                            [](const EventRecord& e) { return e.session_id == 3; });
  ASSERT_NE(third, progress.end());
  EXPECT_EQ(third->done_ranges, (std::vector<ChunkRange>{{0, 7}}));
  EXPECT_EQ(third->bytes_done, 70);
  // The batch had chunks done: its batch.progress says so.
  const std::vector<EventRecord> batch = OfType(rec.Events(), EventType::kBatchProgress);
  ASSERT_FALSE(batch.empty());
  EXPECT_EQ(batch.back().batch_public_id, "b-prog");
  ASSERT_TRUE(batch.back().counts.has_value());
  EXPECT_EQ(batch.back().counts->in_progress, 2);
}

TEST(PgEventHubTest, ChangedBatchesGetBatchProgressWithTheSuppressedCount) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  const int64_t id = testing::InsertBatchRow(*conn, "b-chg", "running", 10, 6);
  const int64_t untouched = testing::InsertBatchRow(*conn, "b-idle", "queued", 10, 10);
  HubRecorder rec;
  auto hub = testing::StartHub(uri, rec);
  ASSERT_TRUE(hub);
  hub->SessionEventsSuppressed(id, 3);
  const int64_t ids[] = {id, untouched, 999'999};  // not started; gone
  hub->BatchesChanged(ids);
  PollUntil([&] { return !OfType(rec.Events(), EventType::kBatchProgress).empty(); });
  hub->Stop();
  const std::vector<EventRecord> batch = OfType(rec.Events(), EventType::kBatchProgress);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].batch_public_id, "b-chg");
  EXPECT_EQ(batch[0].to, "running");
  EXPECT_EQ(batch[0].sessions, 10u);
  EXPECT_EQ(batch[0].suppressed_session_events, 3);
  ASSERT_TRUE(batch[0].counts.has_value());
  EXPECT_EQ(batch[0].counts->uninitialized, 6);
  EXPECT_EQ(batch[0].counts->in_progress, 4);
}

TEST(PgEventHubTest, TrimKeepsTheBoundAndDeletesTheOldest) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  testing::ManualClock clock;
  HubRecorder rec;
  EventLogOptions options;
  options.retention_events = 10;
  options.retention_age = std::chrono::hours(1);
  options.retention_interval = std::chrono::hours(1);  // only Trim() and growth run it
  auto hub = testing::StartHub(uri, rec, options, clock.AsWallClock());
  ASSERT_TRUE(hub);
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  std::vector<EventRecord> events;
  for (int i = 1; i <= 30; ++i) {
    EventRecord e = MarkerEvent("b", i);
    e.time_ms = clock.Now();
    events.push_back(e);
  }
  testing::CommitEvents(*conn, events);
  PollUntil([&] { return hub->DeliveredSeq() == 30; });  // retention stops at it

  auto trim = [&] {
    std::atomic<bool> done{false};
    Result<int64_t> result = int64_t{-1};
    hub->Trim([&](Result<int64_t> r) {
      result = std::move(r);
      done.store(true);
    });
    PollUntil([&] { return done.load(); });
    return result;
  };
  Result<int64_t> deleted = trim();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 20);
  auto page = ReadEvents(*conn, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->oldest_seq, 21);
  EXPECT_EQ(page->latest_seq, 30);
  EXPECT_EQ(page->events.size(), 10u);

  // Two hours later all ten are too old: the log empties, its latest seq stays.
  clock.Advance(std::chrono::hours(2));
  deleted = trim();
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 10);
  page = ReadEvents(*conn, {});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->oldest_seq, 31);
  EXPECT_EQ(page->latest_seq, 30);

  hub->Stop();
  std::atomic<bool> refused{false};
  hub->Trim([&](Result<int64_t> r) { refused.store(!r.ok()); });
  EXPECT_TRUE(refused.load());
}

TEST(PgEventHubTest, TheHubReconnectsAfterTheServerDroppedItsConnections) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder rec;
  auto hub = testing::StartHub(uri, rec);
  ASSERT_TRUE(hub);
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  testing::CommitEvents(*conn, {MarkerEvent("b", 1)});
  PollUntil([&] { return rec.EventCount() == 1; });

  // As a server restart would: every other backend of this database goes.
  auto killed = conn->Exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_GE(killed->Int(0, 0), 3);  // the hub's three connections

  testing::CommitEvents(*conn, {MarkerEvent("b", 2), MarkerEvent("b", 3)});
  PollUntil([&] { return rec.EventCount() == 3; });
  // A stop sent before the stop listener is back is lost (LISTEN has no memory): send until
  // one arrives.
  PollUntil([&] {
    EXPECT_TRUE(conn->Run("SELECT pg_notify('batchd_stop', 'session:9')").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return !rec.Stops().empty();
  });
  hub->Stop();
  EXPECT_EQ(rec.Stops()[0].session_id, 9);
  const std::vector<EventRecord> events = rec.Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].session_id, 3);
}

TEST(PgEventHubTest, StopDeliversWhatWasCommittedBeforeIt) {
  const std::string uri = testing::MigratedPgDatabaseUri();
  ASSERT_FALSE(uri.empty());
  HubRecorder rec;
  auto hub = testing::StartHub(uri, rec);
  ASSERT_TRUE(hub);
  auto conn = Connect(uri);
  ASSERT_TRUE(conn);
  std::vector<EventRecord> events;
  for (int i = 1; i <= 50; ++i) events.push_back(MarkerEvent("b", i));
  testing::CommitEvents(*conn, events);
  hub->Stop();  // no waiting first: the last pass and the last read happen in Stop
  EXPECT_EQ(rec.EventCount(), 50u);
  hub->Stop();  // idempotent
}

TEST(PgEventHubTest, AServerThatIsNotThereIsUnavailable) {
  HubRecorder rec;
  auto hub = PgEventHub::Start({.uri = "postgresql://batchd@127.0.0.1:1/none?connect_timeout=2",
                                .listener = rec.Listener()});
  ASSERT_FALSE(hub.ok());
  EXPECT_EQ(hub.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace batchd::storage::pg
