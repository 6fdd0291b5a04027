// A small, real tmpfs on a directory, to run a daemon on a disk that fills up: SQLite's writes
// then fail with SQLITE_FULL exactly as on a full production disk (the WAL cannot grow, so
// COMMIT fails), and removing the filler file is space coming back.
//
// The mount lives in a private mount namespace that the calling thread enters (unshare), so it
// is seen by this thread and by the processes it starts (a daemon forked from it), by nobody
// else, and it disappears with the test process whatever happens to it. Other threads of the
// test keep the old view: touch the directory from the thread that mounted it only.
// Needs root (CAP_SYS_ADMIN); Mount says so and tests skip without it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "core/status.h"

namespace batchd::testing {

class PrivateTmpfs {
 public:
  // Mounts a tmpfs of `bytes` on the existing directory `dir`. kUnavailable (with the reason)
  // where this process may not (not root, no mount namespaces).
  static Result<std::unique_ptr<PrivateTmpfs>> Mount(const std::filesystem::path& dir,
                                                     uint64_t bytes);
  ~PrivateTmpfs();  // unmounts (lazily: a daemon still running keeps its files until it exits)
  PrivateTmpfs(const PrivateTmpfs&) = delete;
  PrivateTmpfs& operator=(const PrivateTmpfs&) = delete;

  // Writes a filler file until the file system is full, then gives back `leave_bytes` of it.
  Status Fill(uint64_t leave_bytes = 0);
  // Removes the filler: the space is back.
  Status Free();

 private:
  explicit PrivateTmpfs(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path filler() const { return dir_ / "filler"; }

  const std::filesystem::path dir_;
};

}  // namespace batchd::testing
