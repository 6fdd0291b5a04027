// The HTTP server's limits against the real daemon (docs/api.md, "Limits"): each is a flag, and
// hitting it is answered with its status and the JSON error, changes nothing in the database,
// and leaves the daemon serving. The body and session limits are in invalid_batch_test.cpp, the
// WebSocket keepalive in events_test.cpp.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/auth_helpers.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/event_stream_helpers.h"
#include "tests/support/raw_http_connection.h"
#include "tests/support/sample_batches.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class LimitsTest : public DaemonTest {
 protected:
  // A daemon with `args`, the queue paused and one batch in it, so "unchanged" is checked on a
  // database that holds something.
  void StartWithABatch(std::vector<std::string> args) {
    ASSERT_NO_FATAL_FAILURE(StartDaemon(std::move(args)));
    ASSERT_NO_FATAL_FAILURE(PauseQueue());
    ASSERT_OK_AND_ASSIGN(json seed,
                         PostJson(client(), "/api/v1/batches", SimpleBatch("seed", 3), 201));
  }

  void ExpectDatabaseUnchangedSince(const DbFingerprint& before) {
    Result<DbFingerprint> after = FingerprintDb(daemon().db_path());
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(*after, before) << "before: " << before.ToString()
                              << "\nafter:  " << after->ToString();
  }

  // The daemon still answers (a fresh connection, so it also still accepts).
  void ExpectStillServing() {
    Result<HttpResponse> r = client().Get("/api/v1/batches");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200) << r->Describe();
  }
};

TEST_F(LimitsTest, HeadersOverTheLimitAre431AndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithABatch({"--max-header-bytes", "4096"}));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  ASSERT_OK_AND_ASSIGN(HttpResponse r,
                       client().Request("POST", "/api/v1/batches", SimpleBatch("big", 2).dump(),
                                        {{"X-Padding", std::string(8000, 'p')}}));
  EXPECT_TRUE(IsApiError(r, 431, "header_too_large", ""));
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("4096"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(ExpectDatabaseUnchangedSince(before));

  // Just under it is fine.
  ASSERT_OK_AND_ASSIGN(HttpResponse ok,
                       client().Request("POST", "/api/v1/batches", SimpleBatch("small", 2).dump(),
                                        {{"X-Padding", std::string(3000, 'p')}}));
  EXPECT_EQ(ok.status, 201) << ok.Describe();
}

TEST_F(LimitsTest, ConnectionsOverTheLimitAre503AndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithABatch({"--max-connections", "2"}));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  // Two connections take both places: one idle, one that has been answered once (so the
  // daemon has surely accepted both before the third arrives).
  ASSERT_OK_AND_ASSIGN(RawHttpConnection first, RawHttpConnection::Connect(daemon().port()));
  ASSERT_OK(first.Send(RawRequest("GET", "/healthz")));
  ASSERT_OK_AND_ASSIGN(HttpResponse first_answer, first.ReadResponse());
  ASSERT_EQ(first_answer.status, 200);
  // The connections of the requests before may still be closing on the daemon's side (it
  // counts a connection until its session has ended): the second place is free once they have.
  std::optional<RawHttpConnection> second;
  ASSERT_OK(WaitUntil(
      [&] {
        Result<RawHttpConnection> c = RawHttpConnection::Connect(daemon().port());
        if (!c.ok() || !c->Send(RawRequest("GET", "/healthz")).ok()) return false;
        Result<HttpResponse> answer = c->ReadResponse();
        if (!answer.ok() || answer->status != 200) return false;
        second.emplace(std::move(*c));
        return true;
      },
      std::chrono::seconds(30), "a second connection to be served"));

  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(HttpResponse r,
                         client().Post("/api/v1/batches", SimpleBatch("refused", 2).dump()));
    EXPECT_TRUE(IsApiError(r, 503, "unavailable", "")) << "attempt " << i;
    EXPECT_EQ(r.headers["retry-after"], "1");
    EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("limit of 2 connections"),
              std::string::npos)
        << r.Describe();
  }
  ASSERT_NO_FATAL_FAILURE(ExpectDatabaseUnchangedSince(before));

  // The connections in place are still served; once one leaves, a newcomer is too.
  ASSERT_OK(first.Send(RawRequest("GET", "/api/v1/queue")));
  ASSERT_OK_AND_ASSIGN(HttpResponse still, first.ReadResponse());
  EXPECT_EQ(still.status, 200) << still.Describe();
  second->Close();
  ASSERT_OK(WaitUntil(
      [&] {
        Result<HttpResponse> r = client().Get("/api/v1/batches");
        return r.ok() && r->status == 200;
      },
      seconds(10), "a place to free up"));
}

// Pipelining is backpressure, not refusal: every request is answered, in order, however many
// are sent at once; past --http-pipeline-limit the daemon just reads no further until it has
// answered (that it reads no further is shown in unit/api/http_pipelining_test.cpp).
TEST_F(LimitsTest, PipelinedRequestsAreAllAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartWithABatch({"--http-pipeline-limit", "2"}));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));
  ASSERT_OK_AND_ASSIGN(RawHttpConnection c, RawHttpConnection::Connect(daemon().port()));
  std::string burst;
  constexpr int kBatches = 6;
  for (int i = 0; i < kBatches; ++i) {
    burst +=
        RawRequest("POST", "/api/v1/batches", SimpleBatch("piped-" + std::to_string(i), 2).dump());
    burst += RawRequest("GET", "/api/v1/no/such/route/" + std::to_string(i));
  }
  burst += RawRequest("GET", "/api/v1/batches?limit=100");
  ASSERT_OK(c.Send(burst));

  std::vector<std::string> ids;
  for (int i = 0; i < kBatches; ++i) {
    ASSERT_OK_AND_ASSIGN(HttpResponse created, c.ReadResponse());
    ASSERT_EQ(created.status, 201) << "answer " << 2 * i << ": " << created.Describe();
    ids.push_back(created.Json()["id"]);
    ASSERT_OK_AND_ASSIGN(HttpResponse missing, c.ReadResponse());
    EXPECT_TRUE(IsApiError(missing, 404, "not_found", ""));
    EXPECT_NE(missing.body.find("/route/" + std::to_string(i)), std::string::npos)
        << "answer " << 2 * i + 1 << " belongs to request " << 2 * i + 1 << ": "
        << missing.Describe();
  }
  ASSERT_OK_AND_ASSIGN(HttpResponse list, c.ReadResponse());
  ASSERT_EQ(list.status, 200);
  // Newest first: the batches were created in the order they were sent.
  const json items = list.Json()["items"];
  ASSERT_EQ(items.size(), kBatches + 1u);
  for (int i = 0; i < kBatches; ++i) {
    EXPECT_EQ(items[kBatches - 1 - i]["id"], ids[i]);
    EXPECT_EQ(items[kBatches - 1 - i]["name"], "piped-" + std::to_string(i));
  }
  // Exactly those batches were added: nothing twice, nothing half.
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after.batch_rows, before.batch_rows + kBatches);
  EXPECT_EQ(after.session_rows, before.session_rows + 2 * kBatches);
}

TEST_F(LimitsTest, BatchesOverTheActiveLimitAre429AndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithABatch({"--max-active-batches", "2"}));
  ASSERT_OK_AND_ASSIGN(json second,
                       PostJson(client(), "/api/v1/batches", SimpleBatch("second", 2), 201));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  ASSERT_OK_AND_ASSIGN(HttpResponse r,
                       client().Post("/api/v1/batches", SimpleBatch("third", 2).dump()));
  EXPECT_TRUE(IsApiError(r, 429, "too_many_batches", ""));
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("limit (2)"), std::string::npos)
      << r.Describe();
  ASSERT_NO_FATAL_FAILURE(ExpectDatabaseUnchangedSince(before));

  // A finished batch no longer counts.
  ASSERT_OK_AND_ASSIGN(
      json canceled,
      PostJson(client(), "/api/v1/batches/" + second["id"].get<std::string>() + "/cancel",
               json::object(), 200));
  ASSERT_OK_AND_ASSIGN(json third,
                       PostJson(client(), "/api/v1/batches", SimpleBatch("third", 2), 201));
}

TEST_F(LimitsTest, EventSubscribersOverTheLimitAre503AndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithABatch({"--event-max-subscribers", "1"}));
  ASSERT_OK_AND_ASSIGN(auto first, WebSocketClient::Connect(daemon().port(), "/api/v1/events"));
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*first));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  ASSERT_OK_AND_ASSIGN(RawHttpConnection c, RawHttpConnection::Connect(daemon().port()));
  ASSERT_OK(c.Send(RawRequest("GET", "/api/v1/events?since=0", {},
                              {{"Upgrade", "websocket"},
                               {"Connection", "Upgrade"},
                               {"Sec-WebSocket-Version", "13"},
                               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}})));
  ASSERT_OK_AND_ASSIGN(HttpResponse refused, c.ReadResponse());
  EXPECT_TRUE(IsApiError(refused, 503, "unavailable", ""));
  EXPECT_NE(refused.body.find("too many event subscribers"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(ExpectDatabaseUnchangedSince(before));
  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.Json()["events"]["subscribers"], 1);
}

// A client that stops reading its event stream is closed (4001) once --event-queue-limit events
// wait for it; the batch it was watching is not disturbed.
TEST_F(LimitsTest, ASlowEventConsumerIsClosedWith4001AndTheBatchIsUnaffected) {
  constexpr int kSessions = 4000;
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--event-queue-limit", "4", "--event-session-rate",
                                       "10000000", "--slots", "64", "--log-level", "info"}));
  ASSERT_OK_AND_ASSIGN(auto stuck, WebSocketClient::Connect(daemon().port(), "/api/v1/events",
                                                            {.receive_buffer_bytes = 4096}));
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*stuck));
  // Every failure is an event with a 1 KB message: megabytes the stuck client never reads.
  ASSERT_OK_AND_ASSIGN(
      std::string id, SubmitBatch(client(), FailBatch("flood", kSessions, "permanent", std::nullopt,
                                                      std::string(1000, 'x'))));
  ASSERT_OK_AND_ASSIGN(json failed, WaitForBatchState(client(), id, "failed", seconds(120)));
  ASSERT_OK_AND_ASSIGN(json health,
                       WaitForJson(
                           client(), "/healthz",
                           [](const json& h) { return h["events"]["slow_consumers_closed"] >= 1; },
                           seconds(60), "the stuck client to be closed"));

  std::optional<WebSocketMessage> close;
  for (int read = 0; read < 100'000 && !close; ++read) {
    Result<WebSocketMessage> m = stuck->Read();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (m->kind == WebSocketMessage::Kind::kClose) close = *m;
  }
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->close_code, 4001) << close->Describe();
  EXPECT_NE(close->payload.find("reconnect with since="), std::string::npos) << close->payload;

  // The batch ran to the end regardless, its counters equal to its rows.
  EXPECT_EQ(failed["counts"]["error"], kSessions);
  ASSERT_OK_AND_ASSIGN(auto audit, AuditBatchCounters(daemon().db_path()));
  ASSERT_EQ(audit.count(id), 1u);
  EXPECT_EQ(audit[id].counters, audit[id].rows);
  EXPECT_EQ(audit[id].rows.error, kSessions);
}

TEST_F(LimitsTest, IdleConnectionsAreClosedAndASlowRequestChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartWithABatch({"--http-idle-timeout-ms", "300"}));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));

  // Connected, never a word.
  ASSERT_OK_AND_ASSIGN(RawHttpConnection silent,
                       RawHttpConnection::Connect(daemon().port(), seconds(20)));
  // Answered once, then idle on keep-alive.
  ASSERT_OK_AND_ASSIGN(RawHttpConnection kept,
                       RawHttpConnection::Connect(daemon().port(), seconds(20)));
  ASSERT_OK(kept.Send(RawRequest("GET", "/api/v1/queue")));
  ASSERT_OK_AND_ASSIGN(HttpResponse answered, kept.ReadResponse());
  EXPECT_EQ(answered.status, 200);
  EXPECT_NE(answered.headers["connection"], "close");
  // Half a submission, then silence: it never completes, so nothing is created.
  ASSERT_OK_AND_ASSIGN(RawHttpConnection slow,
                       RawHttpConnection::Connect(daemon().port(), seconds(20)));
  const std::string request = RawRequest("POST", "/api/v1/batches", SimpleBatch("slow", 2).dump());
  ASSERT_OK(slow.Send(request.substr(0, request.size() - 10)));

  ASSERT_OK(silent.WaitForClose());
  ASSERT_OK(kept.WaitForClose());
  ASSERT_OK(slow.WaitForClose());
  ASSERT_NO_FATAL_FAILURE(ExpectDatabaseUnchangedSince(before));
  ASSERT_NO_FATAL_FAILURE(ExpectStillServing());
}

}  // namespace
}  // namespace batchd::testing
