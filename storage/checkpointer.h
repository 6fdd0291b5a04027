// WAL checkpoints off the writer thread.
//
// By default SQLite checkpoints inside the COMMIT that pushes the WAL past 1000 pages: the
// writer thread itself copies the WAL into the database file and waits for both fsyncs. Under a
// steady stream of claims and outcomes that was a fifth of the writer's time. Here a thread with
// its own connection runs PASSIVE checkpoints (which never block the writer) whenever the WAL
// holds background_frames. Because the writer keeps appending while they run, the WAL
// would only start over from its beginning once the writer pauses; so when it reaches
// writer_frames the writer checkpoints once itself, right after its commit, as SQLite would:
// by then nearly everything is already copied, and the WAL restarts at the next transaction.
//
// Durability is unchanged: a checkpoint only copies committed pages, and SQLite keeps the WAL
// valid until the copy is synced, whichever connection runs it.
#pragma once

#include <filesystem>
#include <memory>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "core/log_throttle.h"
#include "core/mutex.h"
#include "core/status.h"

namespace batchd::storage {

struct CheckpointerOptions {
  int background_frames = 1000;  // SQLite's own automatic threshold
  int writer_frames = 16384;     // 64 MiB of 4 KiB pages
};

class Checkpointer {
 public:
  // Opens its own read-write connection to `path` (an existing WAL database) and starts its
  // thread. kIoError if the connection cannot be opened.
  static Result<std::unique_ptr<Checkpointer>> Start(const std::filesystem::path& path,
                                                     CheckpointerOptions options = {});
  ~Checkpointer();  // Stop()s
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Takes over checkpointing for `writer` (replacing SQLite's automatic checkpoints). The
  // writer connection must be closed before this object is stopped.
  void Attach(SQLite::Database& writer);

  // Finishes a checkpoint in progress, joins the thread, closes the connection. Idempotent.
  void Stop();

 private:
  Checkpointer(std::unique_ptr<SQLite::Database> db, CheckpointerOptions options)
      : db_(std::move(db)), options_(options) {}
  // The writer connection's WAL hook: runs on the writer thread after every commit.
  static int OnWalCommit(void* self, struct sqlite3* writer, const char* schema, int frames);
  void Run();

  std::unique_ptr<SQLite::Database> db_;  // used only by thread_
  const CheckpointerOptions options_;
  Mutex mu_;
  CondVar wanted_;
  bool pending_ GUARDED_BY(mu_) = false;      // a checkpoint was asked for
  bool writer_turn_ GUARDED_BY(mu_) = false;  // the writer's checkpoint goes first
  bool stopping_ GUARDED_BY(mu_) = false;
  LogThrottle failure_log_;  // used by thread_
  std::thread thread_;
};

}  // namespace batchd::storage
