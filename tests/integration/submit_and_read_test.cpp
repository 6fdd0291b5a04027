// Submitting batches and reading them back over HTTP: the 201 answer, batch lists and details,
// keyset-paginated sessions, state filters, and session details checked against an independent
// model of the expansion (tests/support/reference_expansion.h).
//
// These tests are about storage and reads, not execution: each pauses the queue first so no
// session leaves `uninitialized`.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/reference_expansion.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

class SubmitAndReadTest : public DaemonTest {
 protected:
  // Submits `batch`, expects 201 {"id", "sessions", "enqueue_ms"}, returns the id.
  void Submit(const json& batch, int64_t expected_sessions, std::string* id) {
    ASSERT_OK_AND_ASSIGN(json created, PostJson(client(), "/api/v1/batches", batch, 201));
    ASSERT_TRUE(created.contains("id") && created["id"].is_string()) << created.dump();
    ASSERT_FALSE(created["id"].get<std::string>().empty());
    EXPECT_EQ(created["sessions"], expected_sessions) << created.dump();
    ASSERT_TRUE(created.contains("enqueue_ms") && created["enqueue_ms"].is_number())
        << created.dump();
    EXPECT_GE(created["enqueue_ms"].get<double>(), 0.0);
    *id = created["id"].get<std::string>();
  }
};

// Every member docs/api.md lists for a batch, for a batch that was just submitted.
void ExpectFreshBatch(const json& got, const json& submitted, const std::string& id,
                      int64_t sessions) {
  SCOPED_TRACE("batch " + got.dump());
  EXPECT_EQ(got["id"], id);
  EXPECT_EQ(got["name"], submitted.value("name", ""));
  EXPECT_EQ(got["priority"], submitted.value("priority", 0));
  EXPECT_EQ(got["runs"], submitted.value("runs", 1));
  EXPECT_EQ(got["max_running"], submitted.value("max_running", json()));
  EXPECT_EQ(got["max_attempts"], submitted.value("max_attempts", 3));
  EXPECT_EQ(got["state"], "queued");
  EXPECT_EQ(got["sessions"], sessions);
  EXPECT_EQ(got["counts"], AllUninitialized(sessions));
  EXPECT_TRUE(IsUtcTimestamp(got["created_at"]));
  EXPECT_TRUE(got.contains("finished_at") && got["finished_at"].is_null());
  EXPECT_TRUE(got.contains("result") && got["result"].is_null());
}

TEST_F(SubmitAndReadTest, SubmittedBatchIsListedAndDetailed) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  const json batch = ZippedAndProductBatch();
  std::string id;
  ASSERT_NO_FATAL_FAILURE(Submit(batch, 24, &id));

  ASSERT_OK_AND_ASSIGN(json list, GetJson(client(), "/api/v1/batches"));
  ASSERT_TRUE(list["items"].is_array()) << list.dump();
  ASSERT_EQ(list["items"].size(), 1u) << list.dump();
  EXPECT_TRUE(list["next_cursor"].is_null()) << list.dump();
  ExpectFreshBatch(list["items"][0], batch, id, 24);

  ASSERT_OK_AND_ASSIGN(json detail, GetJson(client(), "/api/v1/batches/" + id));
  ExpectFreshBatch(detail, batch, id, 24);

  // The store's own account: one batch row, 24 session rows, counters equal to the rows.
  ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
  ASSERT_EQ(audits.size(), 1u);
  const BatchCounterAudit& audit = audits.at(id);
  EXPECT_EQ(audit.session_count, 24);
  EXPECT_EQ(audit.counters, (StateCounts{24, 0, 0, 0, 0})) << audit.counters.ToString();
  EXPECT_EQ(audit.rows, audit.counters) << audit.rows.ToString();
  EXPECT_EQ(audit.unknown_state_rows, 0);
}

TEST_F(SubmitAndReadTest, SessionPagesCoverEveryOrdinalOnceInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  std::string id;
  ASSERT_NO_FATAL_FAILURE(Submit(ZippedAndProductBatch(), 24, &id));
  const std::string sessions_path = "/api/v1/batches/" + id + "/sessions";

  ASSERT_OK_AND_ASSIGN(Pages pages, FetchAllPages(client(), sessions_path, "limit=5"));
  ASSERT_EQ(pages.items.size(), 24u);
  EXPECT_GE(pages.page_sizes.size(), 5u);  // 24 items cannot fit in fewer pages of 5
  for (size_t size : pages.page_sizes) EXPECT_LE(size, 5u);

  std::set<int64_t> session_ids;
  for (size_t i = 0; i < pages.items.size(); ++i) {
    const json& s = pages.items[i];
    SCOPED_TRACE("session " + s.dump());
    EXPECT_EQ(s["ordinal"], i);
    EXPECT_EQ(s["batch_id"], id);
    EXPECT_EQ(s["state"], "uninitialized");
    EXPECT_EQ(s["attempts"], 0);
    ASSERT_TRUE(s["id"].is_number_integer());
    EXPECT_TRUE(session_ids.insert(s["id"].get<int64_t>()).second) << "duplicate session id";
  }

  // The default limit (100) returns the whole batch in one page, identical to the walk.
  ASSERT_OK_AND_ASSIGN(json one_page, GetJson(client(), sessions_path));
  EXPECT_TRUE(one_page["next_cursor"].is_null());
  EXPECT_EQ(one_page["items"], json(pages.items));
}

TEST_F(SubmitAndReadTest, SessionStateFilter) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  std::string id;
  ASSERT_NO_FATAL_FAILURE(Submit(ZippedAndProductBatch(), 24, &id));
  const std::string sessions_path = "/api/v1/batches/" + id + "/sessions";

  ASSERT_OK_AND_ASSIGN(Pages all, FetchAllPages(client(), sessions_path, "limit=5"));
  ASSERT_OK_AND_ASSIGN(Pages uninitialized,
                       FetchAllPages(client(), sessions_path, "state=uninitialized&limit=5"));
  EXPECT_EQ(json(uninitialized.items), json(all.items));

  for (const char* state : {"in_progress", "completed", "error", "canceled"}) {
    SCOPED_TRACE(state);
    ASSERT_OK_AND_ASSIGN(Pages none, FetchAllPages(client(), sessions_path,
                                                   std::string("state=") + state + "&limit=5"));
    EXPECT_TRUE(none.items.empty()) << json(none.items).dump();
  }
}

TEST_F(SubmitAndReadTest, SessionDetailDerivesIndexAndValuesFromOrdinal) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  const json batch = ZippedAndProductBatch();
  std::string id;
  ASSERT_NO_FATAL_FAILURE(Submit(batch, 24, &id));
  const std::vector<ExpectedSession> expected = ExpandReference(batch);
  ASSERT_EQ(expected.size(), 24u);

  ASSERT_OK_AND_ASSIGN(Pages pages,
                       FetchAllPages(client(), "/api/v1/batches/" + id + "/sessions", "limit=7"));
  ASSERT_EQ(pages.items.size(), 24u);
  for (const json& listed : pages.items) {
    const int64_t session_id = listed["id"].get<int64_t>();
    ASSERT_OK_AND_ASSIGN(json s,
                         GetJson(client(), "/api/v1/sessions/" + std::to_string(session_id)));
    SCOPED_TRACE("session " + s.dump());
    const uint64_t ordinal = listed["ordinal"].get<uint64_t>();
    ASSERT_LT(ordinal, expected.size());
    EXPECT_EQ(s["id"], session_id);
    EXPECT_EQ(s["batch_id"], id);
    EXPECT_EQ(s["ordinal"], ordinal);
    EXPECT_EQ(s["state"], "uninitialized");
    EXPECT_EQ(s["attempts"], 0);
    EXPECT_EQ(s["run"], expected[ordinal].run);
    EXPECT_EQ(s["index"], json(expected[ordinal].index));
    EXPECT_EQ(s["values"], expected[ordinal].values);
    for (const char* member : {"execution_state", "progress", "result", "error"}) {
      EXPECT_TRUE(s.contains(member) && s[member].is_null()) << member;
    }
  }
}

TEST_F(SubmitAndReadTest, TemplateOnlyBatchGetsDefaultsAndOneSessionPerRun) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  const json minimal = {{"template", {{"op", "noop"}}}};
  std::string id;
  ASSERT_NO_FATAL_FAILURE(Submit(minimal, 1, &id));
  ASSERT_OK_AND_ASSIGN(json detail, GetJson(client(), "/api/v1/batches/" + id));
  ExpectFreshBatch(detail, minimal, id, 1);

  const json three_runs = {{"template", {{"op", "noop"}}}, {"runs", 3}};
  std::string id3;
  ASSERT_NO_FATAL_FAILURE(Submit(three_runs, 3, &id3));
  ASSERT_OK_AND_ASSIGN(Pages pages,
                       FetchAllPages(client(), "/api/v1/batches/" + id3 + "/sessions", ""));
  ASSERT_EQ(pages.items.size(), 3u);
  for (size_t run = 0; run < 3; ++run) {
    ASSERT_OK_AND_ASSIGN(json s,
                         GetJson(client(), "/api/v1/sessions/" + pages.items[run]["id"].dump()));
    EXPECT_EQ(s["ordinal"], run);
    EXPECT_EQ(s["run"], run);
    EXPECT_EQ(s["index"], json::array());
    EXPECT_EQ(s["values"], json::object());
  }
}

TEST_F(SubmitAndReadTest, BatchListIsNewestFirstWithKeysetPagesAndStateFilter) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  std::vector<std::string> ids;  // in submission order
  for (int i = 0; i < 5; ++i) {
    std::string id;
    ASSERT_NO_FATAL_FAILURE(Submit(SimpleBatch("batch-" + std::to_string(i), i + 1), i + 1, &id));
    ids.push_back(id);
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "ids repeat";
  const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());

  auto ids_of = [](const Pages& pages) {
    std::vector<std::string> out;
    for (const json& b : pages.items) out.push_back(b["id"].get<std::string>());
    return out;
  };

  ASSERT_OK_AND_ASSIGN(Pages pages, FetchAllPages(client(), "/api/v1/batches", "limit=2"));
  EXPECT_EQ(ids_of(pages), newest_first);
  EXPECT_GE(pages.page_sizes.size(), 3u);
  for (size_t size : pages.page_sizes) EXPECT_LE(size, 2u);
  for (const json& b : pages.items) {
    const int64_t n = std::stoi(b["name"].get<std::string>().substr(6)) + 1;
    EXPECT_EQ(b["sessions"], n) << b.dump();
    EXPECT_EQ(b["counts"], AllUninitialized(n)) << b.dump();
  }

  ASSERT_OK_AND_ASSIGN(Pages queued,
                       FetchAllPages(client(), "/api/v1/batches", "state=queued&limit=2"));
  EXPECT_EQ(ids_of(queued), newest_first);
  for (const char* state : {"enqueuing", "running", "paused", "completed", "failed", "canceled"}) {
    SCOPED_TRACE(state);
    ASSERT_OK_AND_ASSIGN(Pages none, FetchAllPages(client(), "/api/v1/batches",
                                                   std::string("state=") + state + "&limit=2"));
    EXPECT_TRUE(none.items.empty()) << json(none.items).dump();
  }

  // limit's documented bounds are both accepted.
  ASSERT_OK_AND_ASSIGN(json first, GetJson(client(), "/api/v1/batches?limit=1"));
  ASSERT_EQ(first["items"].size(), 1u);
  EXPECT_EQ(first["items"][0]["id"], newest_first[0]);
  EXPECT_TRUE(first["next_cursor"].is_string());
  ASSERT_OK_AND_ASSIGN(json max, GetJson(client(), "/api/v1/batches?limit=1000"));
  EXPECT_EQ(max["items"].size(), 5u);
  EXPECT_TRUE(max["next_cursor"].is_null());
}

// Keyset, not offset, pagination: a batch submitted in the middle of a walk neither shifts the
// remaining pages (no item twice, none skipped) nor appears in them (it is newer than the cursor).
TEST_F(SubmitAndReadTest, BatchListCursorIsStableUnderConcurrentSubmits) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    std::string id;
    ASSERT_NO_FATAL_FAILURE(Submit(SimpleBatch("old-" + std::to_string(i), 1), 1, &id));
    ids.push_back(id);
  }

  ASSERT_OK_AND_ASSIGN(json first, GetJson(client(), "/api/v1/batches?limit=2"));
  ASSERT_EQ(first["items"].size(), 2u) << first.dump();
  ASSERT_TRUE(first["next_cursor"].is_string()) << first.dump();
  std::string newer;
  ASSERT_NO_FATAL_FAILURE(Submit(SimpleBatch("newer", 1), 1, &newer));

  ASSERT_OK_AND_ASSIGN(json second,
                       GetJson(client(), "/api/v1/batches?limit=2&cursor=" +
                                             UrlEncode(first["next_cursor"].get<std::string>())));
  std::vector<std::string> walked;
  for (const json* page : {&first, &second}) {
    for (const json& b : (*page)["items"]) walked.push_back(b["id"].get<std::string>());
  }
  EXPECT_EQ(walked, std::vector<std::string>(ids.rbegin(), ids.rend()));
}

}  // namespace
}  // namespace batchd::testing
