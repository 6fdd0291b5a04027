// ProcessRecords (pipeline/process/process_records.h): what a restarted daemon kills, and what
// it must leave alone, with real process groups.
#include "pipeline/process/process_records.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "pipeline/process/process_group.h"

namespace batchd::pipeline {
namespace {

class ProcessRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("batchd-records-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A released `sleep 1000` in its own group.
  std::unique_ptr<ProcessGroup> Sleeper() {
    Result<std::unique_ptr<ProcessGroup>> group =
        ProcessGroup::Spawn({.executable = "/bin/sleep", .argv = {"sleep", "1000"}});
    EXPECT_TRUE(group.ok()) << group.status().ToString();
    if (!group.ok()) return nullptr;
    EXPECT_TRUE((*group)->Release().ok());
    return std::move(*group);
  }

  std::filesystem::path dir_;
};

TEST_F(ProcessRecordsTest, KillsARecordedGroupAndRemovesItsNote) {
  std::unique_ptr<ProcessGroup> group = Sleeper();
  ASSERT_NE(group, nullptr);
  ProcessRecords records(dir_);
  ASSERT_TRUE(records.Record(7, group->pgid(), group->start_ticks()).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "session-7.json"));
  Result<int> killed = records.KillLeftovers();
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_EQ(*killed, 1);
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  Supervised s = group->Supervise({});
  EXPECT_TRUE(s.exit.signaled);
  EXPECT_EQ(s.exit.signal, SIGKILL);
}

TEST_F(ProcessRecordsTest, LeavesAGroupWhosePidWasReusedByAnotherProcess) {
  // The recorded start time differs: the pid now belongs to some other process.
  std::unique_ptr<ProcessGroup> group = Sleeper();
  ASSERT_NE(group, nullptr);
  ProcessRecords records(dir_);
  ASSERT_TRUE(records.Record(8, group->pgid(), group->start_ticks() + 1).ok());
  Result<int> killed = records.KillLeftovers();
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(*killed, 0);
  std::optional<ProcStat> stat = ReadProcStat(group->pgid());
  ASSERT_TRUE(stat.has_value());
  EXPECT_NE(stat->state, 'Z') << "the unrelated process was killed";
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  group->Terminate();
  EXPECT_EQ(group->Supervise({}).exit.signal, SIGTERM);
}

TEST_F(ProcessRecordsTest, ForgottenAndDamagedNotesKillNothing) {
  std::unique_ptr<ProcessGroup> group = Sleeper();
  ASSERT_NE(group, nullptr);
  ProcessRecords records(dir_);
  ASSERT_TRUE(records.Record(9, group->pgid(), group->start_ticks()).ok());
  records.Forget(9);
  records.Forget(10);                                        // never recorded: nothing happens
  std::ofstream(dir_ / "session-11.json") << "{\"pgid\": ";  // cut short
  Result<int> killed = records.KillLeftovers();
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(*killed, 0);
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  group->Terminate();
  EXPECT_EQ(group->Supervise({}).exit.signal, SIGTERM);
}

TEST_F(ProcessRecordsTest, NoDirectoryMeansNothingToKill) {
  Result<int> killed = ProcessRecords(dir_).KillLeftovers();
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(*killed, 0);
}

}  // namespace
}  // namespace batchd::pipeline
