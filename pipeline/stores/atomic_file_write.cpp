#include "pipeline/stores/atomic_file_write.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace batchd::pipeline {
namespace {

// A temp file name is "." + name + ".tmp-" + pid + "-" + counter; the name part is cut so the
// whole fits in NAME_MAX (255) with room for the longest pid and counter.
constexpr size_t kMaxNamePartInTemp = 200;
// A cleaner may take a fresh temp file's lock first (between create and flock); the writer then
// starts again with a new name.
constexpr int kCreateAttempts = 4;
// Arrays nest one directory per dimension at most; deeper means a loop or not an array.
constexpr int kMaxCleanupDepth = 64;

std::atomic<uint64_t> temp_counter{0};

Status IoFailure(std::string_view action, std::string_view what, int error) {
  return Status::IoError(std::string(action) + " " + std::string(what) + ": " +
                         std::strerror(error));
}

// Sets *fd to a new temp file in dir_fd that this writer has locked; returns its name.
Result<std::string> CreateLockedTempFile(int dir_fd, std::string_view name, std::string_view what,
                                         int* fd) {
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    std::string temp = NextTempFileName(name);
    *fd = ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (*fd < 0) {
      if (errno == EEXIST) continue;
      return IoFailure("cannot create a temp file to write", what, errno);
    }
    struct stat st {};
    if (::flock(*fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(*fd, &st) == 0 && st.st_nlink > 0) {
      return temp;
    }
    // A cleanup took it for a dead writer's (and removed or is removing it): start again.
    ::close(*fd);
    *fd = -1;
  }
  return Status::IoError("cannot create a temp file to write " + std::string(what) +
                         ": every attempt was removed by a concurrent cleanup");
}

Status WriteAll(int fd, ByteView data, std::string_view what) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoFailure("cannot write", what, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Removes `name` from dir_fd if its writer is gone (its lock is free). True if removed.
bool RemoveIfStale(int dir_fd, const char* name) {
  int fd = ::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  bool removed = false;
  // Hold the lock across the unlink: a writer that creates the file meanwhile cannot lock it
  // and starts over with another name (CreateLockedTempFile).
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) removed = ::unlinkat(dir_fd, name, 0) == 0;
  ::close(fd);
  return removed;
}

Result<size_t> CleanDirectory(int dir_fd, std::string_view what, int depth) {
  if (depth > kMaxCleanupDepth) {
    return Status::IoError("cannot clean " + std::string(what) + ": directories nest deeper than " +
                           std::to_string(kMaxCleanupDepth));
  }
  int listing_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dir = listing_fd < 0 ? nullptr : ::fdopendir(listing_fd);
  if (dir == nullptr) {
    int error = errno;
    if (listing_fd >= 0) ::close(listing_fd);
    return IoFailure("cannot list", what, error);
  }
  size_t removed = 0;
  Status failure;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_REG && IsTempFileName(name)) {
      removed += RemoveIfStale(dir_fd, entry->d_name) ? 1 : 0;
    } else if (type == DT_DIR) {
      int child = ::openat(dir_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) continue;  // removed meanwhile, or swapped for a symlink: not ours to walk
      std::string child_what = std::string(what) + "/" + std::string(name);
      Result<size_t> sub = CleanDirectory(child, child_what, depth + 1);
      ::close(child);
      if (sub.ok()) {
        removed += *sub;
      } else if (failure.ok()) {
        failure = sub.status();
      }
    }
  }
  ::closedir(dir);
  if (!failure.ok()) return failure;
  return removed;
}

}  // namespace

std::string NextTempFileName(std::string_view name) {
  std::string temp = ".";
  temp += name.substr(0, kMaxNamePartInTemp);
  temp += ".tmp-" + std::to_string(::getpid()) + "-" +
          std::to_string(temp_counter.fetch_add(1, std::memory_order_relaxed));
  return temp;
}

bool IsTempFileName(std::string_view name) {
  if (name.size() < 2 || name.front() != '.') return false;
  size_t marker = name.rfind(".tmp-");
  if (marker == std::string_view::npos || marker == 0) return false;
  std::string_view numbers = name.substr(marker + 5);  // "<pid>-<counter>"
  size_t dash = numbers.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash + 1 == numbers.size()) return false;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (i != dash && (numbers[i] < '0' || numbers[i] > '9')) return false;
  }
  return true;
}

Status WriteFileAtomically(int dir_fd, std::string_view name, ByteView data,
                           std::string_view what) {
  int fd = -1;
  ASSIGN_OR_RETURN(std::string temp, CreateLockedTempFile(dir_fd, name, what, &fd));
  Status written = WriteAll(fd, data, what);
  if (written.ok() && ::fdatasync(fd) != 0) written = IoFailure("cannot sync", what, errno);
  if (written.ok() && ::renameat(dir_fd, temp.c_str(), dir_fd, std::string(name).c_str()) != 0) {
    written = IoFailure("cannot rename a temp file over", what, errno);
  }
  if (!written.ok()) {
    ::unlinkat(dir_fd, temp.c_str(), 0);
    ::close(fd);
    return written;
  }
  ::close(fd);  // only now: the lock kept cleanups away from the temp name until the rename
  if (::fsync(dir_fd) != 0) return IoFailure("cannot sync the directory of", what, errno);
  return Status::Ok();
}

Result<size_t> RemoveStaleTempFiles(int dir_fd, std::string_view what) {
  return CleanDirectory(dir_fd, what, 0);
}

}  // namespace batchd::pipeline
