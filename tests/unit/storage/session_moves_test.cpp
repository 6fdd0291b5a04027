// Moving finished sessions: ranges for runs, one by one otherwise, and never a session that
// already left in_progress.
#include "storage/session_moves.h"

#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include "storage/migrations.h"
#include "storage/sqlite_connection.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

using Target = SessionOutcome::Target;

class SessionMovesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenConnection(dir_.path() / "m.db", ConnectionRole::kWriter);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(ApplyMigrations(*db_).ok());
    // Sessions 1..40 of batch 1, all in progress.
    SQLite::Statement insert(
        *db_, "INSERT INTO session (id, batch_id, ordinal, state) VALUES (?, 1, ?, 1)");
    for (int64_t id = 1; id <= 40; ++id) {
      insert.bind(1, id);
      insert.bind(2, id - 1);
      insert.exec();
      insert.reset();
    }
    cache_ = std::make_unique<StatementCache>(*db_);
  }

  void TearDown() override { cache_.reset(); }

  void SetState(int64_t id, SessionState state) {
    SQLite::Statement s(*db_, "UPDATE session SET state = ? WHERE id = ?");
    s.bind(1, static_cast<int>(state));
    s.bind(2, id);
    s.exec();
  }

  int State(int64_t id) {
    SQLite::Statement s(*db_, "SELECT state FROM session WHERE id = ?");
    s.bind(1, id);
    EXPECT_TRUE(s.executeStep());
    return s.getColumn(0).getInt();
  }

  std::optional<int64_t> NotBefore(int64_t id) {
    SQLite::Statement s(*db_, "SELECT not_before FROM session WHERE id = ?");
    s.bind(1, id);
    EXPECT_TRUE(s.executeStep());
    if (s.getColumn(0).isNull()) return std::nullopt;
    return s.getColumn(0).getInt64();
  }

  static SessionOutcome Outcome(int64_t id, Target target, int64_t not_before = 0) {
    SessionOutcome o;
    o.session_id = id;
    o.batch_id = 1;
    o.target = target;
    o.not_before_ms = not_before;
    return o;
  }

  std::vector<bool> Move(const std::vector<SessionOutcome>& outcomes) {
    std::vector<const SessionOutcome*> pointers;
    for (const SessionOutcome& o : outcomes) pointers.push_back(&o);
    return MoveFinishedSessions(*cache_, pointers);
  }

  testing::TempDir dir_;
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<StatementCache> cache_;
};

TEST_F(SessionMovesTest, ARunInAnyOrderMovesEverySessionOnce) {
  std::vector<SessionOutcome> outcomes;
  for (int64_t id = 20; id >= 1; --id) outcomes.push_back(Outcome(id, Target::kCompleted));
  const std::vector<bool> moved = Move(outcomes);
  ASSERT_EQ(moved.size(), 20u);
  for (size_t k = 0; k < moved.size(); ++k) EXPECT_TRUE(moved[k]) << "outcome " << k;
  for (int64_t id = 1; id <= 20; ++id) EXPECT_EQ(State(id), 2) << "session " << id;
  EXPECT_EQ(State(21), 1) << "a session outside the run is untouched";
}

TEST_F(SessionMovesTest, ARunWithASessionThatAlreadyLeftMovesOnlyTheOthers) {
  SetState(5, SessionState::kCanceled);  // canceled while its outcome was on its way
  std::vector<SessionOutcome> outcomes;
  for (int64_t id = 1; id <= 16; ++id) outcomes.push_back(Outcome(id, Target::kCompleted));
  const std::vector<bool> moved = Move(outcomes);
  for (int64_t id = 1; id <= 16; ++id) {
    EXPECT_EQ(moved[static_cast<size_t>(id - 1)], id != 5) << "session " << id;
  }
  EXPECT_EQ(State(5), 4) << "a canceled session stays canceled";
  EXPECT_EQ(State(6), 2);
}

TEST_F(SessionMovesTest, ASecondOutcomeForTheSameSessionDoesNotMoveItAgain) {
  std::vector<SessionOutcome> outcomes;
  for (int64_t id = 1; id <= 10; ++id) outcomes.push_back(Outcome(id, Target::kCompleted));
  outcomes.push_back(Outcome(3, Target::kError));  // late duplicate in the same flush
  const std::vector<bool> moved = Move(outcomes);
  EXPECT_EQ(std::count(moved.begin(), moved.end(), true), 10);
  EXPECT_EQ(State(3), 2) << "moved once, by whichever outcome came first in id order";
  EXPECT_FALSE(Move({Outcome(3, Target::kCompleted)})[0]) << "and not by a later flush";
}

TEST_F(SessionMovesTest, MixedTargetsAndRequeuesGetTheirOwnStateAndTime) {
  std::vector<SessionOutcome> outcomes;
  for (int64_t id = 1; id <= 12; ++id) {
    outcomes.push_back(Outcome(id, id % 3 == 0 ? Target::kRequeue : Target::kCompleted, 1000 + id));
  }
  for (int64_t id = 13; id <= 24; ++id) outcomes.push_back(Outcome(id, Target::kError));
  const std::vector<bool> moved = Move(outcomes);
  EXPECT_EQ(std::count(moved.begin(), moved.end(), true), 24);
  EXPECT_EQ(State(3), 0);
  EXPECT_EQ(NotBefore(3), 1003) << "a requeued session carries its own backoff end";
  EXPECT_EQ(State(4), 2);
  EXPECT_EQ(NotBefore(4), std::nullopt);
  for (int64_t id = 13; id <= 24; ++id) EXPECT_EQ(State(id), 3) << "session " << id;
}

TEST_F(SessionMovesTest, NothingMovesForSessionsNoLongerInProgress) {
  for (int64_t id = 1; id <= 40; ++id) SetState(id, SessionState::kCompleted);
  std::vector<SessionOutcome> outcomes;
  for (int64_t id = 1; id <= 40; ++id) outcomes.push_back(Outcome(id, Target::kCanceled));
  const std::vector<bool> moved = Move(outcomes);
  EXPECT_EQ(std::count(moved.begin(), moved.end(), true), 0);
  for (int64_t id = 1; id <= 40; ++id) EXPECT_EQ(State(id), 2);
}

}  // namespace
}  // namespace batchd::storage
