#include "daemon/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace batchd::daemon {

Result<DataDir> DataDir::Open(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::IoError("cannot create data dir " + path.string() + ": " + ec.message());
  // The lock is held on the directory itself: a lock file can be deleted (`rm batchd.lock`) and
  // a second daemon would then lock a new one and share the database, deleting the first one's
  // in-flight insert as "half-inserted" at its start. A directory in use cannot be replaced
  // under the same open descriptor.
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IoError("cannot open data dir " + path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::FailedPrecondition("another batchd is already using data dir " + path.string());
  }
  // Writable? (The database would fail later, less clearly.)
  const std::filesystem::path probe = path / "batchd.lock";
  const int probe_fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (probe_fd < 0) {
    const int saved = errno;
    ::close(fd);
    return Status::IoError("cannot write in data dir " + path.string() + ": " +
                           std::strerror(saved));
  }
  ::close(probe_fd);
  return DataDir(path, fd);
}

DataDir::DataDir(DataDir&& other) noexcept
    : path_(std::move(other.path_)), lock_fd_(std::exchange(other.lock_fd_, -1)) {}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status DataDir::WritePortFile(uint16_t port) const {
  const std::filesystem::path tmp = path_ / "batchd.port.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return Status::IoError("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, PortFilePath(), ec);
  if (ec) return Status::IoError("cannot write " + PortFilePath().string() + ": " + ec.message());
  return Status::Ok();
}

void DataDir::RemovePortFile() const {
  std::error_code ec;
  std::filesystem::remove(PortFilePath(), ec);
}

}  // namespace batchd::daemon
