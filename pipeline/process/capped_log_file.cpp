#include "pipeline/process/capped_log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace batchd::pipeline {

Result<CappedLogFile> CappedLogFile::Create(const std::filesystem::path& path, uint64_t head_bytes,
                                            uint64_t tail_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::IoError("cannot create " + path.string() + ": " + std::strerror(errno));
  }
  return CappedLogFile(fd, head_bytes, tail_bytes);
}

CappedLogFile::CappedLogFile(CappedLogFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      head_bytes_(other.head_bytes_),
      written_(other.written_),
      total_(other.total_),
      tail_(std::move(other.tail_)),
      error_(other.error_) {}

CappedLogFile::~CappedLogFile() { (void)Close(); }

void CappedLogFile::Write(std::string_view bytes) {
  while (!bytes.empty() && error_ == 0) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n < 0 ? errno : EIO;
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void CappedLogFile::Append(std::string_view bytes) {
  if (fd_ < 0) return;
  total_ += bytes.size();
  if (written_ < head_bytes_) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(head_bytes_ - written_, bytes.size()));
    Write(bytes.substr(0, n));
    written_ += n;
    bytes.remove_prefix(n);
  }
  if (!bytes.empty()) tail_.Append(bytes);
}

Status CappedLogFile::Close() {
  if (fd_ < 0) return Status::Ok();
  if (tail_.total_bytes() > 0) {
    const std::string kept = tail_.Contents();
    const uint64_t omitted = tail_.total_bytes() - kept.size();
    if (omitted > 0) {
      Write("\n[batchd: " + std::to_string(omitted) + " bytes left out]\n");
    }
    Write(kept);
  }
  ::close(fd_);
  fd_ = -1;
  if (error_ != 0) return Status::IoError(std::string("writing a log: ") + std::strerror(error_));
  return Status::Ok();
}

}  // namespace batchd::pipeline
