// State survives the daemon: after a clean stop (SIGTERM) or a kill -9, a new daemon on the same
// data dir shows the same batches and sessions, byte for byte in JSON, and every batch's
// counters still equal its session rows.
//
// Like submit_and_read_test.cpp, the queue is paused first (the pause itself survives the
// restart), so no scheduler moves sessions between the two captures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/api_assertions.h"
#include "tests/support/api_calls.h"
#include "tests/support/api_state.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/db_inspector.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

class RestartTest : public DaemonTest {
 protected:
  void SubmitSeveralBatches() {
    for (const json& batch :
         {ZippedAndProductBatch("first"), SimpleBatch("second", 5, 3),
          json{{"name", "third"}, {"template", {{"op", "noop"}}}}, SimpleBatch("fourth", 9)}) {
      ASSERT_OK_AND_ASSIGN(json created, PostJson(client(), "/api/v1/batches", batch, 201));
    }
  }

  // Counters equal rows in the database, and the API's counts equal the counters.
  void ExpectCountersMatchRows(const json& api_state) {
    ASSERT_OK_AND_ASSIGN(auto audits, AuditBatchCounters(daemon().db_path()));
    ASSERT_EQ(audits.size(), api_state["batch_details"].size());
    for (const auto& [id, audit] : audits) {
      SCOPED_TRACE("batch " + id);
      EXPECT_EQ(audit.counters, audit.rows)
          << "counters " << audit.counters.ToString() << " rows " << audit.rows.ToString();
      EXPECT_EQ(audit.unknown_state_rows, 0);
      const StateCounts& c = audit.counters;
      EXPECT_EQ(c.uninitialized + c.in_progress + c.completed + c.error + c.canceled,
                audit.session_count);
      ASSERT_TRUE(api_state["batch_details"].contains(id));
      const json& counts = api_state["batch_details"][id]["counts"];
      EXPECT_EQ(counts, (json{{"uninitialized", c.uninitialized},
                              {"in_progress", c.in_progress},
                              {"completed", c.completed},
                              {"error", c.error},
                              {"canceled", c.canceled}}));
      EXPECT_EQ(api_state["batch_details"][id]["sessions"], audit.session_count);
    }
  }

  // Compares two CaptureApiState documents part by part, so a failure points at the difference.
  static void ExpectSameApiState(const json& before, const json& after) {
    EXPECT_EQ(after["batches"], before["batches"]);
    for (const char* part : {"batch_details", "sessions", "session_details"}) {
      ASSERT_EQ(after[part].size(), before[part].size()) << part;
      for (const auto& [key, value] : before[part].items()) {
        EXPECT_EQ(after[part].value(key, json()), value) << part << "[" << key << "]";
      }
    }
  }

  // After a restart new work must not reuse ids of the old: batch ids and session ids.
  void ExpectNewBatchGetsFreshIds(const json& before) {
    int64_t max_old_session = 0;
    for (const auto& [key, value] : before["session_details"].items()) {
      max_old_session = std::max(max_old_session, value["id"].get<int64_t>());
    }
    ASSERT_OK_AND_ASSIGN(json created,
                         PostJson(client(), "/api/v1/batches", SimpleBatch("after", 4), 201));
    const std::string id = created["id"].get<std::string>();
    EXPECT_FALSE(before["batch_details"].contains(id)) << "batch id " << id << " reused";
    ASSERT_OK_AND_ASSIGN(json sessions, GetJson(client(), "/api/v1/batches/" + id + "/sessions"));
    ASSERT_EQ(sessions["items"].size(), 4u);
    for (const json& s : sessions["items"]) {
      EXPECT_GT(s["id"].get<int64_t>(), max_old_session) << "session id reused: " << s.dump();
    }
  }
};

TEST_F(RestartTest, CleanRestartKeepsEverything) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_NO_FATAL_FAILURE(SubmitSeveralBatches());
  ASSERT_OK_AND_ASSIGN(json before, CaptureApiState(client()));
  ASSERT_EQ(before["batches"].size(), 4u);
  ASSERT_EQ(before["session_details"].size(), 24u + 15u + 1u + 9u);
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows(before));

  ASSERT_NO_FATAL_FAILURE(RestartDaemon());

  ASSERT_OK_AND_ASSIGN(json after, CaptureApiState(client()));
  ExpectSameApiState(before, after);
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows(after));
  ASSERT_NO_FATAL_FAILURE(ExpectNewBatchGetsFreshIds(before));
}

TEST_F(RestartTest, KillNineLosesNoAcknowledgedBatch) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  ASSERT_NO_FATAL_FAILURE(SubmitSeveralBatches());
  ASSERT_OK_AND_ASSIGN(json before, CaptureApiState(client()));

  // A 201 means the batch is durable: SIGKILL gives the daemon no chance to flush anything.
  ExitStatus killed = daemon().Kill();
  EXPECT_FALSE(killed.exited) << killed.ToString();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  ASSERT_OK_AND_ASSIGN(json after, CaptureApiState(client()));
  ExpectSameApiState(before, after);
  ASSERT_NO_FATAL_FAILURE(ExpectCountersMatchRows(after));
  ASSERT_NO_FATAL_FAILURE(ExpectNewBatchGetsFreshIds(before));
}

}  // namespace
}  // namespace batchd::testing
