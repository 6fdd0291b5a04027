#include "tests/support/private_tmpfs.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace batchd::testing {

Result<std::unique_ptr<PrivateTmpfs>> PrivateTmpfs::Mount(const std::filesystem::path& dir,
                                                          uint64_t bytes) {
  if (::unshare(CLONE_NEWNS) != 0) {
    return Status::Unavailable(std::string("unshare(CLONE_NEWNS): ") + strerror(errno));
  }
  // Private first: otherwise a shared / would carry the mount back to the parent namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Status::Unavailable(std::string("making / private: ") + strerror(errno));
  }
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return Status::Unavailable("mount -t tmpfs on " + dir.string() + ": " + strerror(errno));
  }
  return std::unique_ptr<PrivateTmpfs>(new PrivateTmpfs(dir));
}

PrivateTmpfs::~PrivateTmpfs() { ::umount2(dir_.c_str(), MNT_DETACH); }

Status PrivateTmpfs::Fill(uint64_t leave_bytes) {
  const int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("open " + filler().string() + ": " + strerror(errno));
  const std::vector<char> zeros(1 << 16, 0);
  off_t size = ::lseek(fd, 0, SEEK_END);
  for (;;) {
    const ssize_t n = ::write(fd, zeros.data(), zeros.size());
    if (n > 0) {
      size += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != ENOSPC) {
      const int e = errno;
      ::close(fd);
      return Status::IoError("filling " + dir_.string() + ": " + strerror(e));
    }
    break;  // full
  }
  const off_t keep = std::max<off_t>(0, size - static_cast<off_t>(leave_bytes));
  const int rc = ::ftruncate(fd, keep);
  const int e = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("truncating the filler: " + std::string(strerror(e)));
  return Status::Ok();
}

Status PrivateTmpfs::Free() {
  if (::unlink(filler().c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("removing " + filler().string() + ": " + strerror(errno));
  }
  return Status::Ok();
}

}  // namespace batchd::testing
