// The event stream against the real daemon over a real WebSocket on loopback (docs/api.md,
// "Events"): order and seq, final counters equal to REST, replay after a reconnect with no gap
// and no duplicate, filters, resync, refusals before the upgrade, keepalive, the subscriber
// limit, a clean close when the daemon stops, and the plain GET of the stored log.
// The slow ones (memory under a client that stops reading, 200 subscribers) are in slow/.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/event_stream_helpers.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class EventsTest : public DaemonTest {
 protected:
  Result<std::unique_ptr<WebSocketClient>> Subscribe(const std::string& query = "",
                                                     WebSocketClientOptions options = {}) {
    return WebSocketClient::Connect(daemon().port(),
                                    "/api/v1/events" + (query.empty() ? "" : "?" + query), options);
  }
};

std::vector<int64_t> Seqs(const std::vector<json>& events) {
  std::vector<int64_t> out;
  for (const json& e : events) out.push_back(e["seq"].get<int64_t>());
  return out;
}

TEST_F(EventsTest, EventsArriveInSeqOrderAndTheFinalCountersEqualRest) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "4"}));
  ASSERT_OK_AND_ASSIGN(auto ws, Subscribe());
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*ws));
  EXPECT_EQ(hello["since"], nullptr);

  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("ordered", 30, 5)));
  ASSERT_OK_AND_ASSIGN(std::vector<json> messages, ReadUntil(*ws, IsEvent("batch.finished", id)));
  const std::vector<json> events = EventsOnly(messages);
  ASSERT_EQ(events.size(), messages.size()) << "no control message after the hello when live";

  int64_t previous = hello["latest_seq"].get<int64_t>();
  std::vector<std::string> batch_states;
  std::map<int64_t, std::vector<std::string>> per_session;
  int64_t done_seen = 0;
  for (const json& e : events) {
    ASSERT_GT(e["seq"].get<int64_t>(), previous) << e.dump();
    previous = e["seq"].get<int64_t>();
    ASSERT_EQ(e["batch"], id) << e.dump();
    ASSERT_TRUE(e["time"].is_string()) << e.dump();
    const std::string type = e["type"];
    if (type == "batch.enqueued" || type == "batch.state") batch_states.push_back(e["state"]);
    if (type == "session.state") per_session[e["session"]].push_back(e["to"]);
    if (type == "batch.progress") {
      EXPECT_GE(e["done"].get<int64_t>(), done_seen) << "progress never goes back";
      done_seen = e["done"];
      EXPECT_EQ(e["counts"]["uninitialized"].get<int64_t>() +
                    e["counts"]["in_progress"].get<int64_t>() + e["done"].get<int64_t>(),
                30);
    }
  }
  EXPECT_EQ(events.front()["type"], "batch.enqueued");
  EXPECT_EQ(batch_states, (std::vector<std::string>{"queued", "running", "completed"}));
  // A small batch: every session is seen starting, then ending.
  ASSERT_EQ(per_session.size(), 30u);
  for (const auto& [session, transitions] : per_session) {
    EXPECT_EQ(transitions, (std::vector<std::string>{"in_progress", "completed"})) << session;
  }

  ASSERT_OK_AND_ASSIGN(json rest, GetJson(client(), "/api/v1/batches/" + id));
  const json& finished = events.back();
  EXPECT_EQ(finished["counts"], rest["counts"]);
  EXPECT_EQ(finished["counts"]["completed"], 30);
  EXPECT_EQ(finished["state"], "completed");
  EXPECT_EQ(finished["sessions"], 30);
  EXPECT_EQ(finished["finished_at"], rest["finished_at"]);
}

TEST_F(EventsTest, AReconnectWithSinceGetsExactlyTheMissedEvents) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  // The reference stays connected throughout.
  ASSERT_OK_AND_ASSIGN(auto reference, Subscribe());
  ASSERT_OK_AND_ASSIGN(json ref_hello, ReadHello(*reference));
  ASSERT_OK_AND_ASSIGN(auto dropped, Subscribe());
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*dropped));

  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("replayed", 20, 5)));
  // The second client sees the start, then its connection drops.
  ASSERT_OK_AND_ASSIGN(std::vector<json> before, ReadUntil(*dropped, IsEvent("batch.state", id)));
  const int64_t since = before.back()["seq"];
  dropped->Disconnect();

  ASSERT_OK_AND_ASSIGN(std::vector<json> all, ReadUntil(*reference, IsEvent("batch.finished", id)));
  std::vector<json> missed;
  for (const json& e : all) {
    if (e["seq"].get<int64_t>() > since) missed.push_back(e);
  }
  ASSERT_GT(missed.size(), 20u) << "the batch ran on while the client was away";

  ASSERT_OK_AND_ASSIGN(auto again, Subscribe("since=" + std::to_string(since)));
  ASSERT_OK_AND_ASSIGN(json again_hello, ReadHello(*again));
  EXPECT_EQ(again_hello["since"], since);
  ASSERT_OK_AND_ASSIGN(std::vector<json> replay, ReadUntil(*again, [](const json& m) {
                         return m.value("type", "") == "caught_up";
                       }));
  const std::vector<json> replayed = EventsOnly(replay);
  EXPECT_EQ(Seqs(replayed), Seqs(missed)) << "no gap, no duplicate";
  EXPECT_EQ(replayed, missed) << "the same events, field for field";
  EXPECT_EQ(replay.back()["latest_seq"], missed.back()["seq"]);

  // Then it is live: the next batch's events reach both clients alike.
  ASSERT_OK_AND_ASSIGN(std::string next, SubmitBatch(client(), SleepBatch("after", 2, 1)));
  ASSERT_OK_AND_ASSIGN(std::vector<json> live, ReadUntil(*again, IsEvent("batch.finished", next)));
  ASSERT_OK_AND_ASSIGN(std::vector<json> ref_live,
                       ReadUntil(*reference, IsEvent("batch.finished", next)));
  EXPECT_EQ(live, ref_live);
}

TEST_F(EventsTest, FiltersSelectBatchTypesAndSessionAlsoOnReplay) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(std::string other, SubmitBatch(client(), SleepBatch("other", 3, 1)));
  ASSERT_OK_AND_ASSIGN(auto batch_events, Subscribe("types=batch.*"));  // every batch
  ASSERT_OK_AND_ASSIGN(json h1, ReadHello(*batch_events));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("mine", 3, 1)));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(json done_other,
                       WaitForBatchState(client(), other, "completed", seconds(30)));

  ASSERT_OK_AND_ASSIGN(std::vector<json> live,
                       ReadUntil(*batch_events, IsEvent("batch.finished", id)));
  for (const json& e : live) {
    EXPECT_TRUE(e["type"].get<std::string>().starts_with("batch.")) << e.dump();
  }

  // Replay of one batch's finishing events from the start of the log.
  ASSERT_OK_AND_ASSIGN(auto replay,
                       Subscribe("since=0&batch=" + id + "&types=batch.enqueued,batch.finished"));
  ASSERT_OK_AND_ASSIGN(json h2, ReadHello(*replay));
  ASSERT_OK_AND_ASSIGN(std::vector<json> got, ReadUntil(*replay, [](const json& m) {
                         return m.value("type", "") == "caught_up";
                       }));
  const std::vector<json> events = EventsOnly(got);
  ASSERT_EQ(events.size(), 2u) << json(got).dump();
  EXPECT_EQ(events[0]["type"], "batch.enqueued");
  EXPECT_EQ(events[1]["type"], "batch.finished");
  for (const json& e : events) EXPECT_EQ(e["batch"], id);

  // One session's events.
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sessions, SessionIdsOf(client(), id));
  ASSERT_OK_AND_ASSIGN(auto one, Subscribe("since=0&session=" + std::to_string(sessions[1])));
  ASSERT_OK_AND_ASSIGN(json h3, ReadHello(*one));
  ASSERT_OK_AND_ASSIGN(std::vector<json> session_events, ReadUntil(*one, [](const json& m) {
                         return m.value("type", "") == "caught_up";
                       }));
  const std::vector<json> of_session = EventsOnly(session_events);
  ASSERT_EQ(of_session.size(), 2u);  // started, completed
  for (const json& e : of_session) EXPECT_EQ(e["session"], sessions[1]);
}

// Chunk progress an op reports (here `sleep` with "chunks") becomes session.progress events
// with the done map, coalesced to at most one per session per 100 ms, and batch.progress gets
// a chunk rate.
TEST_F(EventsTest, ReportedLiveProgressReachesSubscribersCoalesced) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(auto ws, Subscribe("types=session.progress,batch.progress"));
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*ws));
  json batch = SleepBatch("chunky", 1, 1000);
  batch["template"]["chunks"] = 40;
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), batch));
  ASSERT_OK_AND_ASSIGN(std::vector<json> got, ReadUntil(*ws, [](const json& m) {
                         return m.value("type", "") == "session.progress" && m["chunks_done"] == 40;
                       }));
  std::vector<json> progress;
  bool chunk_rate = false;
  for (const json& e : got) {
    if (e["type"] == "session.progress") progress.push_back(e);
    if (e["type"] == "batch.progress" && e["chunks_per_s"].is_number()) chunk_rate = true;
  }
  ASSERT_GE(progress.size(), 2u);
  int64_t before = 0;
  for (const json& p : progress) {
    EXPECT_EQ(p["batch"], id);
    EXPECT_EQ(p["chunks_total"], 40);
    EXPECT_GT(p["chunks_done"].get<int64_t>(), before);
    before = p["chunks_done"];
    ASSERT_TRUE(p["done_ranges"].is_array()) << p.dump();
    int64_t covered = 0;
    for (const json& r : p["done_ranges"]) covered += r[1].get<int64_t>() - r[0].get<int64_t>();
    EXPECT_EQ(covered, p["chunks_done"].get<int64_t>()) << "the map marks every done chunk";
  }
  EXPECT_EQ(progress.back()["done_ranges"], json::array({json::array({0, 40})}));
  // 40 chunk reports over about a second, but at most one event per 100 ms (plus the last).
  EXPECT_LT(progress.size(), 40u);
  EXPECT_TRUE(chunk_rate) << "batch.progress reports chunks/s once chunks are reported";
}

TEST_F(EventsTest, ASinceOutsideTheRetainedLogIsAnsweredWithResync) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--event-retention-events", "10", "--slots", "4"}));
  // A 100-session batch writes over 200 events: retention (run as the log outgrows its bound)
  // keeps the newest 10.
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("long", 100, 1)));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(60)));
  ASSERT_OK_AND_ASSIGN(json trimmed, WaitForJson(
                                         client(), "/api/v1/events?limit=1",
                                         [](const json& page) { return page["oldest_seq"] > 2; },
                                         seconds(30), "retention to run"));

  ASSERT_OK_AND_ASSIGN(auto old, Subscribe("since=1"));
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*old));
  ASSERT_OK_AND_ASSIGN(json resync, old->ReadJson());
  EXPECT_EQ(resync["type"], "resync") << resync.dump();
  EXPECT_EQ(resync["since"], 1);
  EXPECT_GT(resync["oldest_seq"].get<int64_t>(), 2);
  EXPECT_NE(resync["message"].get<std::string>().find("no longer kept"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(json caught_up, old->ReadJson());
  EXPECT_EQ(caught_up["type"], "caught_up");
  EXPECT_EQ(caught_up["latest_seq"], resync["latest_seq"]);

  ASSERT_OK_AND_ASSIGN(auto ahead, Subscribe("since=99999999"));
  ASSERT_OK_AND_ASSIGN(json hello2, ReadHello(*ahead));
  ASSERT_OK_AND_ASSIGN(json resync2, ahead->ReadJson());
  EXPECT_EQ(resync2["type"], "resync");
  EXPECT_NE(resync2["message"].get<std::string>().find("ahead"), std::string::npos);

  // The plain GET says the same.
  ASSERT_OK_AND_ASSIGN(json page, GetJson(client(), "/api/v1/events?since=1"));
  EXPECT_EQ(page["resync"], true);
}

TEST_F(EventsTest, BadSubscriptionsAreRefusedBeforeTheUpgrade) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  struct Case {
    std::string query;
    std::string path;
  };
  for (const Case& c : std::vector<Case>{{"types=batch.exploded", "?types"},
                                         {"types=", "?types"},
                                         {"since=-1", "?since"},
                                         {"since=abc", "?since"},
                                         {"session=0", "?session"},
                                         {"batch=", "?batch"},
                                         {"limit=5", "?limit"},
                                         {"batches=x", "?batches"}}) {
    Result<std::unique_ptr<WebSocketClient>> ws = Subscribe(c.query);
    ASSERT_FALSE(ws.ok()) << c.query;
    const std::string& refusal = ws.status().message();
    EXPECT_NE(refusal.find("HTTP 400"), std::string::npos) << c.query << ": " << refusal;
    EXPECT_NE(refusal.find("invalid_query"), std::string::npos) << refusal;
    EXPECT_NE(refusal.find("\"" + c.path + "\""), std::string::npos) << refusal;
  }
  // The daemon is unharmed and still streams.
  ASSERT_OK_AND_ASSIGN(auto ws, Subscribe());
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*ws));
}

TEST_F(EventsTest, WhatClientsSendIsIgnoredAndOversizedMessagesCloseOnlyTheirConnection) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(auto chatty, Subscribe());
  ASSERT_OK_AND_ASSIGN(auto flooder, Subscribe());
  ASSERT_OK_AND_ASSIGN(json h1, ReadHello(*chatty));
  ASSERT_OK_AND_ASSIGN(json h2, ReadHello(*flooder));

  ASSERT_OK(chatty->SendText("{\"please\": \"send more\"}"));
  ASSERT_OK(chatty->SendText("not even json"));
  ASSERT_OK(chatty->SendPing("are you there"));
  ASSERT_OK(flooder->SendText(std::string(64 * 1024, 'x')));  // past the 4 KiB limit

  // The flooder is closed (1009: message too big), or cut.
  Result<WebSocketMessage> end = flooder->Read();
  if (end.ok()) {
    EXPECT_EQ(end->kind, WebSocketMessage::Kind::kClose) << end->Describe();
    EXPECT_EQ(end->close_code, 1009) << end->Describe();
  } else {
    EXPECT_NE(end.status().message().find("closed"), std::string::npos)
        << "ended, not timed out: " << end.status().ToString();
  }
  // The chatty one got its pong and still receives events.
  ASSERT_OK_AND_ASSIGN(WebSocketMessage pong, chatty->Read());
  EXPECT_EQ(pong.kind, WebSocketMessage::Kind::kPong) << pong.Describe();
  EXPECT_EQ(pong.payload, "are you there");
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("after", 1, 1)));
  ASSERT_OK_AND_ASSIGN(std::vector<json> got, ReadUntil(*chatty, IsEvent("batch.finished", id)));
}

TEST_F(EventsTest, SubscribersBeyondTheLimitAreRefusedWith503) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--event-max-subscribers", "2"}));
  ASSERT_OK_AND_ASSIGN(auto a, Subscribe());
  ASSERT_OK_AND_ASSIGN(json ha, ReadHello(*a));
  ASSERT_OK_AND_ASSIGN(auto b, Subscribe());
  ASSERT_OK_AND_ASSIGN(json hb, ReadHello(*b));
  Result<std::unique_ptr<WebSocketClient>> c = Subscribe();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("HTTP 503"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("too many event subscribers"), std::string::npos);

  // A departure frees a place.
  a->Disconnect();
  ASSERT_OK_AND_ASSIGN(
      json health,
      WaitForJson(
          client(), "/healthz", [](const json& h) { return h["events"]["subscribers"] == 1; },
          seconds(10), "the departure to be noticed"));
  ASSERT_OK_AND_ASSIGN(auto d, Subscribe());
  ASSERT_OK_AND_ASSIGN(json hd, ReadHello(*d));
}

TEST_F(EventsTest, SilentClientsArePingedAndClosedWhenThePongNeverComes) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--event-ping-ms", "200"}));
  ASSERT_OK_AND_ASSIGN(auto mute, Subscribe("", {.timeout = seconds(10), .auto_pong = false}));
  ASSERT_OK_AND_ASSIGN(auto polite, Subscribe());
  ASSERT_OK_AND_ASSIGN(json h1, ReadHello(*mute));
  ASSERT_OK_AND_ASSIGN(json h2, ReadHello(*polite));
  // The polite client reads all along (Read answers pings while it waits), until a batch
  // submitted well after several ping intervals has finished.
  Result<std::vector<json>> got = Status::Internal("not read");
  // A jthread: an assertion failing below still joins it (its reads are bounded).
  std::jthread reader([&] {
    got = ReadUntil(*polite, [](const json& m) { return m.value("type", "") == "batch.finished"; });
  });

  ASSERT_OK_AND_ASSIGN(WebSocketMessage ping, mute->Read());
  EXPECT_EQ(ping.kind, WebSocketMessage::Kind::kPing) << ping.Describe();
  // Never answered: the daemon gives up on it (a close frame, or the connection cut).
  Result<WebSocketMessage> after = mute->Read();
  if (after.ok()) {
    EXPECT_EQ(after->kind, WebSocketMessage::Kind::kClose) << after->Describe();
  } else {
    EXPECT_NE(after.status().message().find("closed"), std::string::npos)
        << after.status().ToString();
  }

  std::this_thread::sleep_for(milliseconds(1500));
  Result<std::string> id = SubmitBatch(client(), SleepBatch("alive", 1, 1));
  reader.join();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->back()["batch"], *id);
}

TEST_F(EventsTest, StoppingTheDaemonClosesStreamsWithWhereToResume) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("before-stop", 2, 1)));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(auto ws, Subscribe("since=0"));
  ASSERT_OK_AND_ASSIGN(std::vector<json> replay, ReadUntil(*ws, [](const json& m) {
                         return m.value("type", "") == "caught_up";
                       }));
  const int64_t last = replay.back()["latest_seq"];

  std::thread stopper([&] { StopDaemonCleanly(); });
  Result<WebSocketMessage> close = ws->Read();
  stopper.join();
  ASSERT_TRUE(close.ok()) << close.status().ToString();
  EXPECT_EQ(close->kind, WebSocketMessage::Kind::kClose) << close->Describe();
  EXPECT_EQ(close->close_code, 1001);
  EXPECT_NE(close->payload.find("since=" + std::to_string(last)), std::string::npos)
      << close->payload;
}

TEST_F(EventsTest, ThePlainGetPagesTheStoredLog) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--slots", "2"}));
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), SleepBatch("paged", 5, 1)));
  ASSERT_OK_AND_ASSIGN(json done, WaitForBatchState(client(), id, "completed", seconds(30)));
  ASSERT_OK_AND_ASSIGN(json finished_page, WaitForJson(
                                               client(), "/api/v1/events?types=batch.finished",
                                               [](const json& p) { return p["items"].size() == 1; },
                                               seconds(10), "batch.finished in the log"));

  std::vector<json> walked;
  std::string since = "0";
  for (int pages = 0; pages < 100; ++pages) {
    ASSERT_OK_AND_ASSIGN(json page, GetJson(client(), "/api/v1/events?limit=3&since=" + since));
    EXPECT_EQ(page["resync"], false);
    EXPECT_LE(page["items"].size(), 3u);
    for (const json& e : page["items"]) walked.push_back(e);
    since = page["next_cursor"];
    if (!page["more"].get<bool>()) break;
  }
  ASSERT_FALSE(walked.empty());
  for (size_t i = 0; i < walked.size(); ++i) {
    EXPECT_EQ(walked[i]["seq"], static_cast<int64_t>(i + 1)) << "dense, in order, from 1";
  }
  EXPECT_EQ(std::stoll(since), walked.back()["seq"].get<int64_t>());

  ASSERT_OK_AND_ASSIGN(json tail, GetJson(client(), "/api/v1/events?tail=2&batch=" + id));
  ASSERT_EQ(tail["items"].size(), 2u);
  EXPECT_EQ(tail["items"][1]["type"], "batch.finished") << "the newest last";
  EXPECT_LT(tail["items"][0]["seq"], tail["items"][1]["seq"]);

  ASSERT_OK_AND_ASSIGN(json bad, GetJson(client(), "/api/v1/events?tail=2&since=1", 400));
  EXPECT_EQ(bad["error"]["path"], "?tail");
  ASSERT_OK_AND_ASSIGN(json bad_limit, GetJson(client(), "/api/v1/events?limit=0", 400));
  EXPECT_EQ(bad_limit["error"]["path"], "?limit");
}

}  // namespace
}  // namespace batchd::testing
