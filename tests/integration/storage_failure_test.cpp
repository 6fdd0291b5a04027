// The storage underneath the daemon failing: a full disk or a read-only data dir at start is a
// clear message and a non-zero exit, never a half-started daemon; and another process holding
// the database's write lock delays requests but never shows a client SQLITE_BUSY.
//
// The full and read-only file systems are real tmpfs mounts, made inside a private mount
// namespace (`unshare -m`) so that nothing outlives the test, whatever happens to it.
#include <gtest/gtest.h>

#include <SQLiteCpp/Database.h>

#include <future>
#include <thread>

#include "tests/support/api_calls.h"
#include "tests/support/command.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

// Runs `script` as root in a private mount namespace; the output, or a skip reason when this
// machine cannot mount (not root, no unshare).
Result<CommandOutput> InPrivateMounts(const std::string& script) {
  return RunCommand({"unshare", "--mount", "--propagation", "private", "sh", "-c", script},
                    std::chrono::seconds(30));
}

bool CanMount() {
  Result<CommandOutput> r = InPrivateMounts("mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt");
  return r.ok() && r->exit_code == 0;
}

std::string ServeCommand(const std::string& data_dir) {
  return std::string("exec ") + BATCHD_BINARY + " serve --listen 127.0.0.1:0 --data-dir " +
         data_dir;
}

TEST(StorageFailureTest, AFullDiskAtStartIsAClearErrorAndANonZeroExit) {
  if (!CanMount()) GTEST_SKIP() << "needs root and unshare to mount a small tmpfs";
  TempDir dir;
  const std::string mnt = dir.path().string();
  // 16 KiB of file system, filled up: not even the database header fits.
  Result<CommandOutput> r =
      InPrivateMounts("mount -t tmpfs -o size=16k tmpfs " + mnt + " && (dd if=/dev/zero of=" + mnt +
                      "/fill bs=1k count=64 2>/dev/null; true) && " + ServeCommand(mnt + "/data"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE((r->out + r->err).find("disk is full"), std::string::npos) << r->err << r->out;
}

TEST(StorageFailureTest, AReadOnlyDataDirAtStartIsAClearErrorAndANonZeroExit) {
  if (!CanMount()) GTEST_SKIP() << "needs root and unshare to mount a read-only tmpfs";
  TempDir dir;
  const std::string mnt = dir.path().string();
  Result<CommandOutput> r =
      InPrivateMounts("mount -t tmpfs -o ro,size=1m tmpfs " + mnt + " && " + ServeCommand(mnt));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE((r->out + r->err).find("Read-only"), std::string::npos) << r->err << r->out;
}

TEST(StorageFailureTest, AnExistingDatabaseOnAReadOnlyFileSystemIsRefusedAtStart) {
  if (!CanMount()) GTEST_SKIP() << "needs root and unshare to remount a tmpfs read-only";
  TempDir dir;
  const std::string mnt = dir.path().string();
  // Start once to create the database, stop, remount read-only, start again.
  Result<CommandOutput> r = InPrivateMounts(
      "mount -t tmpfs -o size=8m tmpfs " + mnt + " && " + BATCHD_BINARY +
      " serve --listen 127.0.0.1:0 --data-dir " + mnt + " & pid=$!; " +
      "for i in $(seq 100); do [ -f " + mnt + "/batchd.port ] && break; sleep 0.05; done; " +
      "kill -TERM $pid; wait $pid; mount -o remount,ro " + mnt + " && " + ServeCommand(mnt));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE((r->out + r->err).find("Read-only"), std::string::npos) << r->err << r->out;
}

class BusyDatabaseTest : public DaemonTest {};

TEST_F(BusyDatabaseTest, AnotherWriterHoldingTheLockDelaysRequestsButNeverFailsThem) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PauseQueue());
  // An outside process takes the write lock and keeps it for a while.
  SQLite::Database other(daemon().db_path().string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  auto submitted = std::async(std::launch::async, [&] {
    return client().Post("/api/v1/batches", SimpleBatch("busy", 3).dump());
  });
  auto listed = std::async(std::launch::async, [&] { return client().Get("/api/v1/batches"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  other.exec("COMMIT");

  Result<HttpResponse> post = submitted.get();
  Result<HttpResponse> get = listed.get();
  ASSERT_TRUE(post.ok()) << post.status().ToString();
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(post->status, 201) << post->body;
  EXPECT_EQ(get->status, 200) << get->body;
  for (const std::string& body : {post->body, get->body}) {
    EXPECT_EQ(body.find("locked"), std::string::npos) << body;
    EXPECT_EQ(body.find("busy"), std::string::npos) << body;
  }
}

}  // namespace
}  // namespace batchd::testing
