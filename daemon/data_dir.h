// The daemon's data directory: created if missing, locked so that two daemons never share one
// database, and home of batchd.db and batchd.port.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/status.h"

namespace batchd::daemon {

class DataDir {
 public:
  // Creates `path` if needed and takes an exclusive lock on the directory itself (flock on its
  // descriptor, released when the process ends, however it ends; no file in it can be deleted
  // to defeat it). kFailedPrecondition if another process holds the lock; kIoError if the
  // directory cannot be created or written.
  static Result<DataDir> Open(const std::filesystem::path& path);
  DataDir(DataDir&&) noexcept;
  ~DataDir();

  std::filesystem::path DatabasePath() const { return path_ / "batchd.db"; }
  std::filesystem::path PortFilePath() const { return path_ / "batchd.port"; }
  // Written by the fatal-signal handlers (crash_marker.h).
  std::filesystem::path CrashMarkerPath() const { return path_ / "batchd.crash"; }
  // The command op's logs, result files and process notes (pipeline/ops/command_op.h).
  std::filesystem::path CommandDir() const { return path_ / "command"; }

  // Writes the port atomically (temp file + rename), so a reader never sees a partial number.
  Status WritePortFile(uint16_t port) const;
  void RemovePortFile() const;

 private:
  DataDir(std::filesystem::path path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

}  // namespace batchd::daemon
