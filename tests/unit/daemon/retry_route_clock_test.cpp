// The retry routes (api/lifecycle_routes.cpp) requeue sessions claimable from the time of the
// request, which they read from the context's clock (ApiContext::clock), not the system's.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include "route_fixture.h"
#include "tests/support/manual_clock.h"

namespace batchd::api {
namespace {

class RetryRouteClockTest : public testing::RouteFixture {
 protected:
  static constexpr int64_t kT = 1'000'000'000'000;  // 2001: no system clock's time today

  void SetUp() override { Start(scheduler_, clock_.AsWallClock()); }

  int64_t NotBefore(int64_t session_id) {
    SQLite::Database db(db_path().string(), SQLite::OPEN_READONLY);
    SQLite::Statement s(db, "SELECT not_before FROM session WHERE id = ?");
    s.bind(1, session_id);
    EXPECT_TRUE(s.executeStep()) << "no session " << session_id;
    return s.getColumn(0).getInt64();
  }

  testing::SchedulerStub scheduler_;
  batchd::testing::ManualClock clock_{kT};
};

TEST_F(RetryRouteClockTest, RetriedSessionsAreClaimableFromTheClocksTimeOfTheRequest) {
  const std::string id = Create(2);
  Result<storage::BatchRecord> canceled = storage::testing::Await<storage::BatchRecord>(
      [&](auto done) { store_->CancelBatch(id, std::move(done)); });
  ASSERT_TRUE(canceled.ok()) << canceled.status().ToString();
  const int64_t first = canceled->first_session_id;

  const HttpResponse session = Send("POST", "/api/v1/sessions/" + std::to_string(first) + "/retry");
  ASSERT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(NotBefore(first), kT);

  clock_.Advance(std::chrono::milliseconds(5000));
  const HttpResponse batch = Send("POST", "/api/v1/batches/" + id + "/retry");
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(NotBefore(first + 1), kT + 5000) << "the session the batch retry moved";
  EXPECT_EQ(NotBefore(first), kT) << "already queued: not moved again";
}

}  // namespace
}  // namespace batchd::api
