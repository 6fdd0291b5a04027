// Background checkpoints: the WAL starts over while the writer keeps committing, and the data is
// all there after the connections close.
#include "storage/checkpointer.h"

#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/sqlite_connection.h"
#include "storage_test_util.h"

namespace batchd::storage {
namespace {

class CheckpointerTest : public ::testing::Test {
 protected:
  std::filesystem::path Path() const { return dir_.path() / "k.db"; }

  // The WAL header's checkpoint sequence (big-endian, bytes 12..15), which SQLite increments
  // each time the WAL starts over from its beginning.
  uint32_t WalCheckpointSequence() const {
    std::ifstream wal(Path().string() + "-wal", std::ios::binary);
    unsigned char header[16] = {};
    wal.read(reinterpret_cast<char*>(header), sizeof header);
    return static_cast<uint32_t>(header[12]) << 24 | static_cast<uint32_t>(header[13]) << 16 |
           static_cast<uint32_t>(header[14]) << 8 | header[15];
  }

  // One commit per call, each dirtying a few fresh pages.
  static void CommitRows(SQLite::Database& db, int first) {
    SQLite::Statement s(db, "INSERT INTO t (id, pad) VALUES (?, zeroblob(3000))");
    db.exec("BEGIN");
    for (int i = 0; i < 4; ++i) {
      s.bind(1, first + i);
      s.exec();
      s.reset();
    }
    db.exec("COMMIT");
  }

  testing::TempDir dir_;
};

TEST_F(CheckpointerTest, TheWalStartsOverWhileTheWriterKeepsCommitting) {
  auto writer = OpenConnection(Path(), ConnectionRole::kWriter);
  ASSERT_TRUE(writer.ok());
  (*writer)->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
  auto checkpointer = Checkpointer::Start(Path(), {.background_frames = 16, .writer_frames = 64});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status().ToString();
  (*checkpointer)->Attach(**writer);

  // Without checkpoints the WAL only grows while the writer never pauses. With them it starts
  // over from its beginning, which bumps the checkpoint sequence in its header.
  CommitRows(**writer, 0);
  const uint32_t first_sequence = WalCheckpointSequence();
  int rows = 4;
  while (rows < 40'000 && WalCheckpointSequence() < first_sequence + 2) {
    CommitRows(**writer, rows);
    rows += 4;
  }
  EXPECT_GE(WalCheckpointSequence(), first_sequence + 2)
      << "the WAL never started over in " << rows / 4 << " commits";

  writer->reset();
  (*checkpointer)->Stop();
  SQLite::Database check(Path().string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(check.execAndGet("SELECT count(*) FROM t").getInt64(), rows);
}

TEST_F(CheckpointerTest, StartFailsCleanlyWhenTheDatabaseCannotBeOpened) {
  auto checkpointer = Checkpointer::Start(dir_.path() / "missing-dir" / "k.db");
  ASSERT_FALSE(checkpointer.ok());
  EXPECT_EQ(checkpointer.status().code(), StatusCode::kIoError);
}

TEST_F(CheckpointerTest, StopIsIdempotentAndLeavesTheWriterWorking) {
  auto writer = OpenConnection(Path(), ConnectionRole::kWriter);
  ASSERT_TRUE(writer.ok());
  (*writer)->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
  {
    auto checkpointer = Checkpointer::Start(Path());
    ASSERT_TRUE(checkpointer.ok());
    (*checkpointer)->Stop();
    (*checkpointer)->Stop();
  }  // never attached: the writer keeps SQLite's own checkpoints
  CommitRows(**writer, 0);
  EXPECT_EQ((*writer)->execAndGet("SELECT count(*) FROM t").getInt64(), 4);
}

}  // namespace
}  // namespace batchd::storage
