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
  const std::filesystem::path lock = path / "batchd.lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IoError("cannot write in data dir " + path.string() + ": " +
                           std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::FailedPrecondition("another batchd is already using data dir " + path.string());
  }
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
