// Issue 10, item 8: a database with damaged pages was opened as if whole: one batch listed
// 1,999,848 of its 2,000,000 sessions without an error and claims failed every second. Now the
// daemon runs PRAGMA quick_check at start and refuses a damaged file with a message saying so
// (exit code 1) and the way out (--skip-integrity-check yes starts without the check, to read
// what is still readable; what it then hits is its own error). And when SQLite finds damage
// at run time, /healthz says `degraded` (503, with the reason) and the log says so once a
// minute, not at every claim.
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/prometheus_exposition.h"
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

// Overwrites the root page of `table` (its b-tree's top: every lookup passes through it).
void DamageRootPage(const std::filesystem::path& db, const std::string& table) {
  constexpr size_t kPage = 4096;
  int64_t root = 0;
  {
    SQLite::Database d(db.string(), SQLite::OPEN_READWRITE);
    d.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // everything into the file the damage hits
    ASSERT_EQ(d.execAndGet("PRAGMA page_size").getInt(), static_cast<int>(kPage));
    SQLite::Statement q(d, "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, table);
    ASSERT_TRUE(q.executeStep()) << "no table " << table;
    root = q.getColumn(0).getInt64();
  }
  std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good());
  const std::string garbage(kPage, '\xA5');
  f.seekp(static_cast<std::streamoff>((root - 1) * static_cast<int64_t>(kPage)));
  f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  ASSERT_TRUE(f.good());
}

int64_t LinesContaining(const std::filesystem::path& log, const std::string& needle) {
  std::ifstream in(log);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

TEST_F(CorruptDatabaseTest, DamageFoundAtRunTimeMakesTheStoreDegradedAndIsLoggedOnceAMinute) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(PostJson(client(), "/api/v1/batches", SimpleBatch("b" + std::to_string(i), 5000), 201)
                  .status());
  }
  ASSERT_NO_FATAL_FAILURE(StopDaemonCleanly());
  ASSERT_NO_FATAL_FAILURE(DamageRootPage(data_dir() / "batchd.db", "session"));

  // Started without the check, the daemon meets the damage at its first claim, and at every
  // claim after it: one a second.
  const auto started = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--skip-integrity-check", "yes"}));
  ASSERT_OK_AND_ASSIGN(HttpResponse resumed, client().Post("/api/v1/queue/resume", ""));
  ASSERT_EQ(resumed.status, 200) << resumed.Describe();
  constexpr int kFailures = 8;
  // A guard against a hang only: the count matters, not how long it takes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  double failures = 0;
  while (failures < kFailures) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "claims failed " << failures << " times, waiting for " << kFailures;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_OK_AND_ASSIGN(HttpResponse m, client().Get("/metrics"));
    ASSERT_OK_AND_ASSIGN(PromExposition e, ParsePromExposition(m.body));
    failures = e.ValueOr0("batchd_scheduler_claim_failures_total");
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;

  // SQLite's words for SQLITE_CORRUPT. Two places report it (the store, and the scheduler
  // whose claims fail), each at most once a minute; far fewer lines than failures.
  const int64_t minutes = std::chrono::duration_cast<std::chrono::minutes>(elapsed).count();
  const int64_t lines = LinesContaining(daemon().log_path(), "database disk image is malformed");
  EXPECT_GE(lines, 1) << "the damage is logged";
  EXPECT_LE(lines, 2 * (1 + minutes))
      << lines << " log lines for at least " << kFailures << " failed claims";

  ASSERT_OK_AND_ASSIGN(HttpResponse health, client().Get("/healthz"));
  EXPECT_EQ(health.status, 503) << health.Describe();
  const json body = health.Json();
  EXPECT_EQ(body["status"], "degraded") << health.body;
  EXPECT_NE(body.value("reason", "").find("damaged"), std::string::npos) << health.body;
  ASSERT_OK_AND_ASSIGN(HttpResponse metrics, client().Get("/metrics"));
  ASSERT_OK_AND_ASSIGN(PromExposition e, ParsePromExposition(metrics.body));
  EXPECT_GE(e.ValueOr0("batchd_store_commit_failures_total", {{"cause", "corrupt"}}), kFailures);
  EXPECT_EQ(e.ValueOr0("batchd_store_degraded"), 1);
}

}  // namespace
}  // namespace batchd::testing
