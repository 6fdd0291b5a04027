#include "pipeline/stores/file_roots.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace batchd::pipeline {
namespace fs = std::filesystem;
namespace {

// openat2 may report EAGAIN when a rename raced with resolving ".."; it is worth a few tries.
constexpr int kOpenat2Attempts = 4;

int Openat2Beneath(int dir_fd, const char* path, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno == EINTR || (errno == EAGAIN && attempt + 1 < kOpenat2Attempts)) continue;
    return -errno;
  }
}

const char* OrDot(const std::string& relative) { return relative.empty() ? "." : relative.c_str(); }

// "" when `path` is `root`, the relative part when inside it, nullopt when outside. Both are
// canonical; comparison is per component, so /data2 is not inside /data.
std::optional<std::string> RelativeInside(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {  // a canonical root has no empty (trailing "/") part
    if (p == path.end() || *r != *p) return std::nullopt;
  }
  std::string relative;
  for (; p != path.end(); ++p) {
    if (p->empty()) continue;
    if (!relative.empty()) relative.push_back('/');
    relative += p->string();
  }
  return relative;
}

}  // namespace

Result<std::shared_ptr<const FileRoots>> FileRoots::Open(const std::vector<fs::path>& roots,
                                                         Enforcement enforcement) {
  std::shared_ptr<FileRoots> out(new FileRoots());
  out->use_openat2_ = enforcement == Enforcement::kKernel;
  for (const fs::path& given : roots) {
    std::error_code ec;
    fs::path canonical = fs::canonical(given, ec);
    if (ec) {
      return Status::InvalidArgument("file root " + given.string() +
                                     " is unusable: " + ec.message());
    }
    int fd = ::open(canonical.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return Status::InvalidArgument("file root " + given.string() +
                                     " is not a directory: " + std::strerror(errno));
    }
    out->roots_.push_back(Root{std::move(canonical), fd});
  }
  return std::shared_ptr<const FileRoots>(std::move(out));
}

FileRoots::~FileRoots() {
  for (Root& root : roots_) ::close(root.fd);
}

std::string FileRoots::OutsideMessage(const std::string& what) const {
  if (roots_.empty()) {
    return what + " is outside the file roots: none are configured, so file:// is disabled " +
           "(start the daemon with --file-root DIR)";
  }
  std::string list;
  for (const Root& root : roots_) list += (list.empty() ? "" : ", ") + root.path.string();
  return what + " is outside the file roots (" + list + ")";
}

Result<FileRoots::Place> FileRoots::Locate(const fs::path& path) const {
  if (roots_.empty() || !path.is_absolute()) {
    return Status::InvalidArgument(OutsideMessage(path.string()));
  }
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(path, ec);
  if (ec) return Status::IoError("cannot resolve " + path.string() + ": " + ec.message());
  std::optional<Place> best;
  size_t best_depth = 0;
  for (size_t i = 0; i < roots_.size(); ++i) {
    std::optional<std::string> relative = RelativeInside(roots_[i].path, resolved);
    size_t depth = std::distance(roots_[i].path.begin(), roots_[i].path.end());
    if (relative && (!best || depth > best_depth)) {
      best = Place{i, std::move(*relative)};
      best_depth = depth;
    }
  }
  if (!best) return Status::InvalidArgument(OutsideMessage(path.string()));
  return *std::move(best);
}

int FileRoots::OpenBeneath(size_t root, const std::string& relative, int flags) const {
  if (use_openat2_.load(std::memory_order_relaxed)) {
    int fd = Openat2Beneath(roots_[root].fd, OrDot(relative), flags);
    if (fd != -ENOSYS && fd != -EXDEV) return fd;
    if (fd == -ENOSYS) use_openat2_.store(false, std::memory_order_relaxed);
  }
  // An absolute symlink or one through ".." (EXDEV), or no openat2 at all: resolve it here.
  return OpenResolvedInUserSpace(root, relative, flags);
}

int FileRoots::OpenResolvedInUserSpace(size_t root, const std::string& relative, int flags) const {
  fs::path absolute = relative.empty() ? roots_[root].path : roots_[root].path / relative;
  Result<Place> place = Locate(absolute);
  if (!place.ok()) {
    return place.status().code() == StatusCode::kInvalidArgument ? -EXDEV : -EIO;
  }
  const Root& holder = roots_[place->root];
  if (use_openat2_.load(std::memory_order_relaxed)) {
    // Resolved, so only a symlink created since (or a dangling absolute one) can escape now.
    int fd = Openat2Beneath(holder.fd, OrDot(place->relative), flags);
    if (fd != -ENOSYS) return fd;
    use_openat2_.store(false, std::memory_order_relaxed);
  }
  // `place` has no symlinks in its existing part; O_NOFOLLOW refuses one put at its end since.
  int fd = ::openat(holder.fd, OrDot(place->relative), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return fd;
  return errno == ELOOP ? -EXDEV : -errno;
}

int FileRoots::OpenOrCreateDirectory(size_t root, const std::string& relative) const {
  constexpr int kDirectoryFlags = O_RDONLY | O_DIRECTORY;
  int fd = OpenBeneath(root, relative, kDirectoryFlags);
  if (fd != -ENOENT) return fd;
  // Create each missing component inside its parent, opened beneath the root afresh, so every
  // mkdirat happens in a directory the confinement has just checked.
  size_t begin = 0;
  for (;;) {
    size_t slash = relative.find('/', begin);
    std::string parent_relative = begin == 0 ? std::string() : relative.substr(0, begin - 1);
    std::string component =
        relative.substr(begin, slash == std::string::npos ? slash : slash - begin);
    int parent = OpenBeneath(root, parent_relative, kDirectoryFlags);
    if (parent < 0) return parent;
    if (::mkdirat(parent, component.c_str(), 0777) == 0) {
      ::fsync(parent);  // the new entry must survive a crash, like the files put under it
    } else if (errno != EEXIST) {
      int error = errno;
      ::close(parent);
      return -error;
    }
    ::close(parent);
    if (slash == std::string::npos) break;
    begin = slash + 1;
  }
  return OpenBeneath(root, relative, kDirectoryFlags);
}

}  // namespace batchd::pipeline
