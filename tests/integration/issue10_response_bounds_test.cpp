// Issue 10, item 2(d): `GET /api/v1/events?since=0&limit=1000` answered 1.28 GB (40 batches with
// 8 MiB names), the daemon's RSS reached 6-8 GB, and SIGTERM then hung. Against the real daemon:
// names (and the fail op's message) are bounded at submit; every list page ends early at
// --max-page-bytes with the cursor to go on from, and paging reads every item exactly once; a
// database written before the bound (huge names) is served one item a page, over HTTP and the
// WebSocket replay, in bounded memory; and a stop does not wait for a client that does not read.
#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/event_stream_helpers.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/sanitizer_build.h"
#include "tests/support/scheduler_helpers.h"
#include "tests/support/websocket_client.h"

namespace batchd::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr size_t kSmallBudget = 16 << 10;  // --max-page-bytes of the paging tests
constexpr size_t kDefaultBudget = 4 << 20;
// What a page adds around its items: {"items":[...],"latest_seq":...,"next_cursor":...}.
constexpr size_t kEnvelopeBytes = 256;
constexpr size_t kHugeName = 8 << 20;

std::string NameOf(int i, size_t bytes) {
  std::string name = "batch " + std::to_string(i) + " ";
  name.resize(bytes, static_cast<char>('a' + i % 26));
  return name;
}

json NoopBatch(const std::string& name, int sessions = 1) {
  json items = json::array();
  for (int i = 0; i < sessions; ++i) items.push_back(i);
  return {{"name", name},
          {"template", {{"op", "noop"}, {"n", 0}}},
          {"data", {{{{"field", "/n"}, {"items", items}}}}}};
}

// Every seq in the event log, oldest first, up to `last`.
std::vector<int64_t> StoredSeqs(const std::filesystem::path& db, int64_t last) {
  SQLite::Database d(db.string(), SQLite::OPEN_READONLY);
  SQLite::Statement s(d, "SELECT seq FROM event WHERE seq <= ? ORDER BY seq");
  s.bind(1, last);
  std::vector<int64_t> out;
  while (s.executeStep()) out.push_back(s.getColumn(0).getInt64());
  return out;
}

struct Walk {
  std::vector<json> items;
  std::vector<size_t> body_bytes;      // per page
  std::vector<size_t> items_per_page;  // per page
  int64_t last_seq = 0;                // events: the last next_cursor
};

// Pages through GET /api/v1/events?since=...&limit=1000 from the start until `more` is false.
Result<Walk> WalkEvents(HttpClient& client) {
  Walk walk;
  std::string since = "0";
  for (int page = 0; page < 10'000; ++page) {
    Result<HttpResponse> r = client.Get("/api/v1/events?limit=1000&since=" + since);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Status::Internal("events page: " + r->Describe());
    const json body = json::parse(r->body, nullptr, false);
    if (body.is_discarded()) return Status::Internal("events page is not JSON");
    walk.body_bytes.push_back(r->body.size());
    walk.items_per_page.push_back(body["items"].size());
    for (const json& e : body["items"]) walk.items.push_back(e);
    const std::string next = body["next_cursor"].get<std::string>();
    if (!body["more"].get<bool>()) {
      walk.last_seq = std::stoll(next);
      return walk;
    }
    if (std::stoll(next) <= std::stoll(since)) {
      return Status::Internal("next_cursor " + next + " does not advance from " + since);
    }
    since = next;
  }
  return Status::Internal("more than 10000 pages");
}

// Pages through a list route (`path`?limit=1000&cursor=...) until next_cursor is null.
Result<Walk> WalkList(HttpClient& client, const std::string& path) {
  Walk walk;
  std::string cursor;
  for (int page = 0; page < 10'000; ++page) {
    Result<HttpResponse> r =
        client.Get(path + "?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    if (!r.ok()) return r.status();
    if (r->status != 200) return Status::Internal(path + " page: " + r->Describe());
    const json body = json::parse(r->body, nullptr, false);
    if (body.is_discarded()) return Status::Internal(path + " page is not JSON");
    walk.body_bytes.push_back(r->body.size());
    walk.items_per_page.push_back(body["items"].size());
    for (const json& e : body["items"]) walk.items.push_back(e);
    if (body["next_cursor"].is_null()) return walk;
    cursor = body["next_cursor"].get<std::string>();
  }
  return Status::Internal("more than 10000 pages");
}

// Every page holds at most `budget` bytes of items, or a single item.
void ExpectPagesWithin(const Walk& walk, size_t budget, const std::string& what) {
  for (size_t p = 0; p < walk.body_bytes.size(); ++p) {
    if (walk.items_per_page[p] > 1) {
      EXPECT_LE(walk.body_bytes[p], budget + kEnvelopeBytes)
          << what << " page " << p << " has " << walk.items_per_page[p] << " items";
    }
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ResponseBoundsTest : public DaemonTest {};

TEST_F(ResponseBoundsTest, AnOverlongNameOrFailMessageIsRefusedAtItsPathAndStoresNothing) {
  // A body limit above the name, so that the name is what is refused.
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max-body-bytes", std::to_string(16 << 20)}));
  ASSERT_OK_AND_ASSIGN(DbFingerprint before, FingerprintDb(daemon().db_path()));
  struct Case {
    json batch;
    std::string path;
  };
  json fail_item = {{"op", "fail"}, {"message", "short"}};
  const std::vector<Case> refused = {
      {NoopBatch(std::string(kHugeName, 'n')), "/name"},
      {NoopBatch(NameOf(1, 1025)), "/name"},
      {{{"template", {{"op", "fail"}, {"message", std::string(1025, 'm')}}}}, "/template/message"},
      {{{"template", {{"op", "fail"}, {"message", "placeholder"}}},
        {"data", {{{{"field", "/message"}, {"items", {"fine", std::string(4096, 'm')}}}}}}},
       "/data/0/0/items/1"},
  };
  for (const Case& c : refused) {
    ASSERT_OK_AND_ASSIGN(json error, PostJson(client(), "/api/v1/batches", c.batch, 422));
    EXPECT_EQ(error["error"]["code"], "invalid_batch") << error.dump();
    EXPECT_EQ(error["error"]["path"], c.path) << error.dump();
    EXPECT_LT(error.dump().size(), 4096u) << "the error must not echo the value";
  }
  ASSERT_OK_AND_ASSIGN(DbFingerprint after, FingerprintDb(daemon().db_path()));
  EXPECT_EQ(after, before);
  // At the bound exactly, it is stored and shown whole.
  ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), NoopBatch(NameOf(2, 1024))));
  ASSERT_OK_AND_ASSIGN(json batch, GetJson(client(), "/api/v1/batches/" + id));
  EXPECT_EQ(batch["name"], NameOf(2, 1024));
}

TEST_F(ResponseBoundsTest, EventPagesEndAtTheByteBudgetAndPagingReadsEveryEventOnce) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max-page-bytes", std::to_string(kSmallBudget)}));
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), NoopBatch(NameOf(i, 1024))));
    ids.push_back(id);
  }
  for (const std::string& id : ids) {
    ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), id, "completed", seconds(60)));
  }
  // Each batch has at least three events carrying its 1 KiB name: ~100 KB in all.
  ASSERT_OK_AND_ASSIGN(HttpResponse first, client().Get("/api/v1/events?since=0&limit=1000"));
  ASSERT_EQ(first.status, 200) << first.Describe();
  const json page = json::parse(first.body);
  EXPECT_TRUE(page["more"].get<bool>()) << "the first page must end early";
  EXPECT_LE(first.body.size(), kSmallBudget + kEnvelopeBytes);
  EXPECT_GT(page["items"].size(), 1u);
  EXPECT_EQ(page["next_cursor"], std::to_string(page["items"].back()["seq"].get<int64_t>()));

  ASSERT_OK_AND_ASSIGN(Walk walk, WalkEvents(client()));
  ExpectPagesWithin(walk, kSmallBudget, "events");
  EXPECT_GE(walk.body_bytes.size(), 5u) << "~100 KB of events in 16 KiB pages";
  std::vector<int64_t> seqs;
  for (const json& e : walk.items) seqs.push_back(e["seq"].get<int64_t>());
  EXPECT_EQ(seqs, StoredSeqs(daemon().db_path(), walk.last_seq))
      << "every stored event exactly once, in order";
  std::set<std::string> enqueued;
  for (const json& e : walk.items) {
    if (e["type"] == "batch.enqueued") enqueued.insert(e["batch"].get<std::string>());
  }
  EXPECT_EQ(enqueued, std::set<std::string>(ids.begin(), ids.end()));
}

TEST_F(ResponseBoundsTest, BatchAndSessionPagesEndAtTheByteBudgetAndListEveryItemOnce) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--max-page-bytes", std::to_string(kSmallBudget)}));
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  std::set<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string id, SubmitBatch(client(), NoopBatch(NameOf(i, 1024))));
    ids.insert(id);
  }
  ASSERT_OK_AND_ASSIGN(Walk batches, WalkList(client(), "/api/v1/batches"));
  ExpectPagesWithin(batches, kSmallBudget, "batches");
  EXPECT_GE(batches.body_bytes.size(), 3u) << "40 KB of batches in 16 KiB pages";
  std::multiset<std::string> listed;
  for (const json& b : batches.items) listed.insert(b["id"].get<std::string>());
  EXPECT_EQ(listed, std::multiset<std::string>(ids.begin(), ids.end()));

  // Sessions carry no free text, but 1000 of them are ~90 KB: the same budget applies.
  ASSERT_OK_AND_ASSIGN(std::string big, SubmitBatch(client(), NoopBatch("many", 2500)));
  ASSERT_OK_AND_ASSIGN(Walk sessions, WalkList(client(), "/api/v1/batches/" + big + "/sessions"));
  ExpectPagesWithin(sessions, kSmallBudget, "sessions");
  EXPECT_GE(sessions.body_bytes.size(), 10u);
  std::vector<int64_t> ordinals;
  for (const json& s : sessions.items) ordinals.push_back(s["ordinal"].get<int64_t>());
  ASSERT_EQ(ordinals.size(), 2500u);
  for (size_t i = 0; i < ordinals.size(); ++i) ASSERT_EQ(ordinals[i], static_cast<int64_t>(i));
}

// A database from before names were bounded: batches named with 8 MiB each, and 40 events with
// such names (the 40 batches), written straight into the stopped daemon's database.
class HugeStoredNamesTest : public DaemonTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK_AND_ASSIGN(std::string id,
                           SubmitBatch(client(), NoopBatch("old " + std::to_string(i))));
      ids_.push_back(id);
    }
    for (const std::string& id : ids_) {
      ASSERT_OK_AND_ASSIGN(json b, WaitForBatchState(client(), id, "completed", seconds(60)));
    }
    ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());
    {
      SQLite::Database db(daemon().db_path().string(), SQLite::OPEN_READWRITE);
      seeded_after_ = db.execAndGet("SELECT max(seq) FROM event").getInt64();
      const std::string huge = "printf('%.*c', " + std::to_string(kHugeName) + ", 'n')";
      db.exec("UPDATE batch SET name = " + huge);
      SQLite::Statement insert(
          db,
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
          "INSERT INTO event (time, type, batch, name, state_from, state_to, sessions, "
          "n_uninitialized, n_in_progress, n_completed, n_error, n_canceled) "
          "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 'batch.state', "
          "?, " +
              huge + ", 'completed', 'completed', 1, 0, 0, 1, 0, 0 FROM n");
      insert.bind(1, ids_[0]);
      insert.exec();
    }
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
  }

  std::vector<std::string> ids_;
  int64_t seeded_after_ = 0;  // the last seq before the 40 huge events
};

TEST_F(HugeStoredNamesTest, EachHugeItemIsAPageOfItsOwnAndTheDaemonStaysSmall) {
  ASSERT_OK_AND_ASSIGN(Walk events, WalkEvents(client()));
  ExpectPagesWithin(events, kDefaultBudget, "events");
  size_t huge = 0;
  for (const json& e : events.items) {
    if (e.contains("name") && e["name"].get<std::string>().size() == kHugeName) ++huge;
  }
  EXPECT_EQ(huge, 40u);
  std::vector<int64_t> seqs;
  for (const json& e : events.items) seqs.push_back(e["seq"].get<int64_t>());
  EXPECT_EQ(seqs, StoredSeqs(daemon().db_path(), events.last_seq));

  ASSERT_OK_AND_ASSIGN(Walk batches, WalkList(client(), "/api/v1/batches"));
  EXPECT_EQ(batches.items_per_page, std::vector<size_t>(3, 1)) << "one 8 MiB batch a page";
  for (const json& b : batches.items) EXPECT_EQ(b["name"].get<std::string>().size(), kHugeName);

  // The WebSocket replay reads the log a small page at a time: one such event a page.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WebSocketClient> ws,
                       WebSocketClient::Connect(daemon().port(), "/api/v1/events?since=0"));
  ASSERT_OK_AND_ASSIGN(json hello, ReadHello(*ws));
  ASSERT_OK_AND_ASSIGN(std::vector<json> replay,
                       ReadUntil(*ws, [](const json& m) { return m["type"] == "caught_up"; }));
  std::vector<int64_t> replayed;
  for (const json& e : EventsOnly(replay)) replayed.push_back(e["seq"].get<int64_t>());
  EXPECT_EQ(replayed, seqs);

  ASSERT_OK_AND_ASSIGN(MemoryUse memory, ReadMemoryUse(daemon().pid()));
  std::cout << "[ measured ] daemon VmHWM after serving 40 + 3 items of 8 MiB: "
            << memory.peak_kib / 1024 << " MiB\n";
  if (!kMemoryIsSanitized) EXPECT_LT(memory.peak_kib, 256 * 1024) << "VmHWM KiB";
}

TEST_F(HugeStoredNamesTest, SigtermWithAClientNotReadingItsPagesStopsAndClosesTheConnection) {
  // A small receive window, so that an 8 MiB answer cannot vanish into kernel buffers.
  ASSERT_OK_AND_ASSIGN(LoopbackSocket reader,
                       LoopbackSocket::Connect(daemon().port(), seconds(30), 4096));
  // Three pages, each starting at a huge event.
  std::string requests;
  for (int i = 0; i < 3; ++i) {
    requests += "GET /api/v1/events?limit=1000&since=" + std::to_string(seeded_after_ + i) +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  }
  ASSERT_OK(reader.SendAll(requests));
  std::string got;
  ASSERT_OK_AND_ASSIGN(bool open, reader.ReceiveSome(got));  // the first answer is on its way
  ASSERT_TRUE(open);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got.substr(0, 100);

  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());
  const std::string log = ReadFile(daemon().log_path());
  // The stop did not wait out its grace for the reader, and closed the connection itself.
  EXPECT_EQ(log.find("unanswered"), std::string::npos) << daemon().LogTail();
  EXPECT_NE(log.find("of them still writing an answer"), std::string::npos) << daemon().LogTail();
}

}  // namespace
}  // namespace batchd::testing
