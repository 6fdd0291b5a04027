// Issue 10, item 8: a database with damaged pages was opened as if whole: one batch listed
// 1,999,848 of its 2,000,000 sessions without an error and claims failed every second. Now the
// daemon runs PRAGMA quick_check at start and refuses a damaged file with a message saying so
// (exit code 1) and the way out (--skip-integrity-check yes starts without the check, to read
// what is still readable; what it then hits is its own error).
#include <fstream>
#include <string>

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"
#include "tests/support/status_assertions.h"

namespace batchd::testing {
namespace {

using nlohmann::json;

// Overwrites `pages` whole pages of the file, spread over its second half, with a pattern.
void DamagePages(const std::filesystem::path& db, int pages) {
  constexpr size_t kPage = 4096;
  const size_t size = std::filesystem::file_size(db);
  ASSERT_GT(size, 64 * kPage) << "too small a database to damage in the middle";
  std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good());
  const std::string garbage(kPage, '\xA5');
  for (int i = 0; i < pages; ++i) {
    const size_t page = (size / kPage) * (5 + i) / (6 + pages);
    f.seekp(static_cast<std::streamoff>(page * kPage));
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  ASSERT_TRUE(f.good());
}

class CorruptDatabaseTest : public DaemonTest {};

TEST_F(CorruptDatabaseTest, ADamagedDatabaseIsRefusedAtStartNamingTheCheckAndTheWayOut) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(PostJson(client(), "/api/v1/batches", SimpleBatch("b" + std::to_string(i), 5000), 201)
                  .status());
  }
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());
  const std::filesystem::path db = data_dir() / "batchd.db";
  {  // Everything into the database file, so the damage hits committed pages.
    SQLite::Database d(db.string(), SQLite::OPEN_READWRITE);
    d.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  ASSERT_NO_FATAL_FAILURE(DamagePages(db, 3));

  ASSERT_OK_AND_ASSIGN(CommandOutput refused,
                       RunCommand({BATCHD_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                   data_dir().string()},
                                  std::chrono::seconds(60)));
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  const std::string said = refused.out + refused.err;
  EXPECT_NE(said.find("failed its integrity check"), std::string::npos) << said;
  EXPECT_NE(said.find("--skip-integrity-check"), std::string::npos) << said;
}

TEST_F(CorruptDatabaseTest, AWholeDatabasePassesTheCheckAtEveryStart) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_OK(PostJson(client(), "/api/v1/batches", SimpleBatch("b", 5000), 201).status());
  ASSERT_NO_FATAL_FAILURE(RestartDaemon());
  ASSERT_OK_AND_ASSIGN(json list, GetJson(client(), "/api/v1/batches"));
  EXPECT_EQ(list["items"].size(), 1u);
}

}  // namespace
}  // namespace batchd::testing
