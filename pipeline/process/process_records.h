// Durable notes of the process groups the `command` op has running, one small file per session
// in a directory of the data dir, so that a daemon that died without stopping them (kill -9,
// a power cut of the daemon alone, a crash) kills them at its next start, before their
// sessions are requeued and run again: no orphans and no program running twice at once.
//
// A note is (pgid, the leader's start time, the boot id): pids are reused, and a group is only
// killed if its leader is still that very process (or, the leader gone, if members of that
// group started no earlier than it remain).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>

#include "core/status.h"

namespace batchd::pipeline {

class ProcessRecords {
 public:
  explicit ProcessRecords(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Writes the note of `session_id`'s running group and makes it durable (a temp file, fsync,
  // rename, fsync of the directory) before returning: the group may run only once it is.
  // Creates the directory if needed. kIoError naming the file.
  Status Record(int64_t session_id, pid_t pgid, uint64_t start_ticks) const;

  // Removes the note (the group is gone). A missing note is not an error.
  void Forget(int64_t session_id) const;

  // For every note: SIGKILLs the group if it is still the one recorded, waits (up to 10 s)
  // until none of its processes is left alive, and removes the note. Returns how many groups
  // were killed. Unreadable notes are removed and skipped (a note is written whole or not at
  // all). kIoError only if the directory exists but cannot be listed.
  Result<int> KillLeftovers() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path NotePath(int64_t session_id) const;
  std::filesystem::path dir_;
};

// This boot's id (/proc/sys/kernel/random/boot_id), "" if unreadable.
std::string BootId();

}  // namespace batchd::pipeline
