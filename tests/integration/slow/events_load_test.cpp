// The event stream under load, against the real daemon over loopback (label `slow`):
// a client that stops reading is disconnected while the daemon's memory stays bounded, and 200
// concurrent subscribers all receive batch.finished.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/event_stream_helpers.h"
#include "tests/support/sanitizer_build.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class EventsLoadTest : public DaemonTest {};

// Acceptance: a client that stops reading is disconnected, and the daemon's memory stays
// bounded meanwhile. The daemon writes ~100 MB of events (failing sessions with 1 KB error
// messages, every failure an event); if the stuck client's queue kept them, the daemon's peak
// RSS would grow by about as much. It must grow by less than half of that.
TEST_F(EventsLoadTest, AClientThatStopsReadingIsClosedAndMemoryStaysBounded) {
  constexpr int64_t kSessions = 100'000;
  constexpr size_t kMessageBytes = 1000;
  constexpr int64_t kEventBytes = kSessions * static_cast<int64_t>(kMessageBytes);
  constexpr int64_t kGrowthBoundKib = kEventBytes / 1024 / 2;
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon({"--slots", "256", "--event-queue-limit", "256", "--event-session-rate",
                   "10000000", "--event-ping-ms", "120000", "--log-level", "info"}));
  // Warm up: the same kind of work, so SQLite's caches and the allocator's arenas are at their
  // working size before the baseline.
  ASSERT_OK_AND_ASSIGN(std::string warm,
                       SubmitBatch(client(), FailBatch("warm", 20'000, "permanent", std::nullopt,
                                                       std::string(kMessageBytes, 'w'))));
  ASSERT_OK_AND_ASSIGN(json warm_done, WaitForBatchState(client(), warm, "failed", seconds(120)));
  ASSERT_OK_AND_ASSIGN(MemoryUse baseline, ReadMemoryUse(daemon().pid()));

  // The stuck client: a tiny receive window, and after the hello it reads nothing.
  ASSERT_OK_AND_ASSIGN(auto stuck, WebSocketClient::Connect(daemon().port(), "/api/v1/events",
                                                            {.receive_buffer_bytes = 4096}));
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*stuck));

  ASSERT_OK_AND_ASSIGN(
      std::string id, SubmitBatch(client(), FailBatch("flood", kSessions, "permanent", std::nullopt,
                                                      std::string(kMessageBytes, 'x'))));
  ASSERT_OK_AND_ASSIGN(json health,
                       WaitForJson(
                           client(), "/healthz",
                           [](const json& h) { return h["events"]["slow_consumers_closed"] >= 1; },
                           seconds(120), "the stuck client to be closed"));

  // Reading again, it finds what was in flight, then the close and its reason.
  size_t events_received = 0;
  std::optional<WebSocketMessage> close;
  for (;;) {
    Result<WebSocketMessage> m = stuck->Read();
    ASSERT_TRUE(m.ok()) << "after " << events_received << " events: " << m.status().ToString();
    if (m->kind == WebSocketMessage::Kind::kClose) {
      close = *m;
      break;
    }
    ++events_received;
  }
  EXPECT_EQ(close->close_code, 4001) << close->Describe();
  EXPECT_NE(close->payload.find("reconnect with since="), std::string::npos) << close->payload;
  EXPECT_LT(events_received, 10'000u) << "it was cut off early in the flood";

  // The peak over the whole flood, stuck client included, stays far below the events' size.
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(300)));
  EXPECT_EQ(failed["counts"]["error"], kSessions);
  ASSERT_OK_AND_ASSIGN(json after_health, GetJson(client(), "/healthz"));
  EXPECT_GE(after_health["events"]["latest_seq"].get<int64_t>(), kSessions)
      << "every failure was an event";
  ASSERT_OK_AND_ASSIGN(MemoryUse after, ReadMemoryUse(daemon().pid()));
  std::cout << "daemon memory: peak " << baseline.peak_kib << " -> " << after.peak_kib
            << " KiB, rss " << baseline.rss_kib << " -> " << after.rss_kib << " KiB; events "
            << kEventBytes / 1024 << " KiB\n";
  if (!batchd::testing::kMemoryIsSanitized) {  // ASan's quarantine alone holds more than this
    EXPECT_LT(after.peak_kib - baseline.peak_kib, kGrowthBoundKib)
        << "peak RSS " << baseline.peak_kib << " KiB before, " << after.peak_kib
        << " KiB after; the events written were " << kEventBytes / 1024 << " KiB";
    EXPECT_LT(after.rss_kib - baseline.rss_kib, kGrowthBoundKib);
  }

  // Everyone else is still served. The publisher may still be working through the flood when
  // this client joins; a reader slower than that (ASan on a loaded machine) is closed 4001 like
  // any slow consumer and, as the protocol asks, reconnects from the last seq it saw.
  int64_t since = after_health["events"]["latest_seq"].get<int64_t>();
  std::string next;
  bool finished = false;
  for (int attempt = 0; attempt < 20 && !finished; ++attempt) {
    ASSERT_OK_AND_ASSIGN(
        auto fresh,
        WebSocketClient::Connect(daemon().port(), "/api/v1/events?since=" + std::to_string(since)));
    ASSERT_OK_AND_ASSIGN(json fresh_hello, ReadHello(*fresh));
    if (next.empty()) {
      ASSERT_OK_AND_ASSIGN(next, SubmitBatch(client(), SleepBatch("after", 2, 1)));
    }
    for (;;) {
      ASSERT_OK_AND_ASSIGN(WebSocketMessage m, fresh->Read());
      if (m.kind == WebSocketMessage::Kind::kClose) {
        ASSERT_EQ(m.close_code, 4001) << m.Describe();
        break;
      }
      const json event = m.Json();
      if (event.contains("seq")) since = std::max(since, event["seq"].get<int64_t>());
      if (IsEvent("batch.finished", next)(event)) {
        finished = true;
        break;
      }
    }
  }
  EXPECT_TRUE(finished) << "batch.finished of " << next << " never came, after 20 reconnects";
}

// Acceptance: 200 concurrent subscribers all receive batch.finished, with the REST counters.
TEST_F(EventsLoadTest, TwoHundredSubscribersAllReceiveBatchFinished) {
  constexpr int kSubscribers = 200;
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "8"}));
  std::vector<std::unique_ptr<WebSocketClient>> clients;
  for (int i = 0; i < kSubscribers; ++i) {
    ASSERT_OK_AND_ASSIGN(auto ws, WebSocketClient::Connect(daemon().port(), "/api/v1/events"));
    ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*ws));
    clients.push_back(std::move(ws));
  }
  ASSERT_OK_AND_ASSIGN(json health, GetJson(client(), "/healthz"));
  EXPECT_EQ(health["events"]["subscribers"], kSubscribers);

  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("broadcast", 100, 1)));
  std::vector<Result<std::vector<json>>> results(kSubscribers, Status::Internal("not read"));
  std::vector<std::thread> readers;
  for (int i = 0; i < kSubscribers; ++i) {
    readers.emplace_back(
        [&, i] { results[i] = ReadUntil(*clients[i], IsEvent("batch.finished", id)); });
  }
  for (auto& t : readers) t.join();

  ASSERT_OK_AND_ASSIGN(json rest, GetJson(client(), "/api/v1/batches/" + id));
  int received = 0;
  for (int i = 0; i < kSubscribers; ++i) {
    ASSERT_TRUE(results[i].ok()) << "subscriber " << i << ": " << results[i].status().ToString();
    const json& finished = results[i]->back();
    EXPECT_EQ(finished["counts"], rest["counts"]) << "subscriber " << i;
    // Every subscriber saw the same stream.
    EXPECT_EQ(*results[i], *results[0]) << "subscriber " << i;
    ++received;
  }
  EXPECT_EQ(received, kSubscribers);
}

}  // namespace
}  // namespace batchd::testing
