#include "tests/pg/pg_event_hub_harness.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "storage/pg/pg_migrations.h"
#include "tests/pg/pg_test_db.h"

namespace batchd::testing {

using storage::EventRecord;
using storage::pg::PgConnection;
using storage::pg::PgParam;

std::string MigratedPgDatabaseUri() {
  std::string uri = FreshPgDatabaseUri();
  if (uri.empty()) return uri;
  auto conn = PgConnection::Open(uri);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status().ToString();
    return "";
  }
  Status s = storage::pg::ApplyPgMigrations(**conn);
  if (!s.ok()) {
    ADD_FAILURE() << s.ToString();
    return "";
  }
  return uri;
}

bool PollUntil(const std::function<bool()>& condition) {
  const auto give_up = std::chrono::steady_clock::now() + kPgPollGuard;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) {
      ADD_FAILURE() << "gave up waiting after " << kPgPollGuard.count() << " s (a hang?)";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

storage::EventListener HubRecorder::Listener() {
  return [this](const std::vector<EventRecord>& events) {
    if (in_call_.fetch_add(1) != 0) overlapping_.fetch_add(1);
    {
      MutexLock lock(mu_);
      events_.insert(events_.end(), events.begin(), events.end());
    }
    in_call_.fetch_sub(1);
  };
}

std::function<void(const storage::RemoteStop&)> HubRecorder::StopHandler() {
  return [this](const storage::RemoteStop& stop) {
    MutexLock lock(mu_);
    stops_.push_back(stop);
  };
}

std::vector<EventRecord> HubRecorder::Events() const {
  MutexLock lock(mu_);
  return events_;
}

std::vector<storage::RemoteStop> HubRecorder::Stops() const {
  MutexLock lock(mu_);
  return stops_;
}

size_t HubRecorder::EventCount() const {
  MutexLock lock(mu_);
  return events_.size();
}

std::unique_ptr<storage::pg::PgEventHub> StartHub(const std::string& uri, HubRecorder& recorder,
                                                  storage::EventLogOptions events, WallClock clock,
                                                  SteadyClock steady) {
  auto hub = storage::pg::PgEventHub::Start({.uri = uri,
                                             .events = events,
                                             .listener = recorder.Listener(),
                                             .on_remote_stop = recorder.StopHandler(),
                                             .clock = std::move(clock),
                                             .steady_clock = std::move(steady)});
  if (!hub.ok()) {
    ADD_FAILURE() << hub.status().ToString();
    return nullptr;
  }
  return std::move(hub).value();
}

int64_t InsertBatchRow(PgConnection& conn, const std::string& public_id, const std::string& state,
                       int64_t sessions, int64_t uninitialized) {
  auto r = conn.Exec(
      "INSERT INTO batch (public_id, name, priority, runs, max_attempts, spec, shape, "
      "session_count, first_session_id, state, n_uninitialized, n_in_progress, created_at) "
      "VALUES ($1, $1, 0, 1, 1, $2, $3, $4, 1, $5, $6, $7, 0) RETURNING id",
      {PgParam::Text(public_id), PgParam::Bytes("{}"), PgParam::Text(std::to_string(sessions)),
       PgParam::Int(sessions), PgParam::Text(state), PgParam::Int(uninitialized),
       PgParam::Int(sessions - uninitialized)});
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return 0;
  }
  return r->Int(0, 0);
}

EventRecord MarkerEvent(const std::string& batch, int64_t session_id) {
  EventRecord e;
  e.time_ms = batchd::testing::kPgTestWallClock();
  e.type = storage::EventType::kSessionState;
  e.batch_public_id = batch;
  e.session_id = session_id;
  e.from = "queued";
  e.to = "running";
  e.attempt = 1;
  return e;
}

void CommitEvents(PgConnection& conn, const std::vector<EventRecord>& events) {
  storage::pg::PgTransaction tx(conn);
  ASSERT_TRUE(tx.begun().ok()) << tx.begun().ToString();
  Status s = storage::pg::AppendEvents(conn, events);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = tx.Commit();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

std::vector<EventRecord> ReadAll(PgConnection& conn) {
  std::vector<EventRecord> all;
  int64_t after = 0;
  while (true) {
    auto page = storage::pg::ReadEvents(conn, {.after_seq = after, .limit = 1000});
    if (!page.ok()) {
      ADD_FAILURE() << page.status().ToString();
      return all;
    }
    all.insert(all.end(), page->events.begin(), page->events.end());
    if (page->events.empty() || !page->more) return all;
    after = page->events.back().seq;
  }
}

}  // namespace batchd::testing
