// Where file:// stores may read and write: the directories given with `batchd serve
// --file-root DIR`, and the one way to open a path beneath them.
//
// The rule: a path is inside the roots if, after every symlink and ".." in it is resolved, it
// lies inside one root directory, compared component by component (/data2 is not inside /data).
// A symlink anywhere, including a chunk file in an array, that leads outside every root is
// refused; one that leads into another root is followed.
//
// Enforcement (OpenBeneath): openat2(2) with RESOLVE_BENEATH from a descriptor of the root, so the
// kernel checks every component of every open, atomically, at no extra cost, and a directory
// swapped for a symlink between a check and an open cannot fool it. RESOLVE_BENEATH also refuses
// absolute symlinks and ones that pass above the root; those take a slower path: resolve the
// whole path in user space, find the root that holds the result, and open that beneath its root
// (kernel-checked again). On kernels without openat2 (before 5.6: ENOSYS) every open takes the
// user-space path and opens the resolved path with O_NOFOLLOW; only that fallback is open to a
// race with a concurrent rename of a parent directory inside a root.
//
// Thread-safe: immutable after Open (the fallback switch is an atomic).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchd::pipeline {

class FileRoots {
 public:
  enum class Enforcement {
    kKernel,     // openat2 RESOLVE_BENEATH, falling back to kUserSpace if the kernel lacks it
    kUserSpace,  // always the fallback (what an old kernel gets; selectable so tests cover it)
  };

  // A place beneath a root: `relative` is "" (the root itself) or "a/b" (no leading, trailing
  // or doubled "/", no "." or "..").
  struct Place {
    size_t root = 0;
    std::string relative;
  };

  // Resolves every root (it must exist and be a directory) and holds it open. kInvalidArgument
  // naming the root otherwise. No roots at all is valid: then every path is refused, with a
  // message that says how to configure one.
  static Result<std::shared_ptr<const FileRoots>> Open(
      const std::vector<std::filesystem::path>& roots,
      Enforcement enforcement = Enforcement::kKernel);

  ~FileRoots();
  FileRoots(const FileRoots&) = delete;
  FileRoots& operator=(const FileRoots&) = delete;

  // Resolves the absolute `path` (symlinks in the part that exists followed, ".." applied; the
  // rest need not exist) and finds the innermost root holding it. kInvalidArgument
  // "<path> is outside the file roots (...)" if none does; kIoError if resolving fails (a
  // symlink loop, say).
  Result<Place> Locate(const std::filesystem::path& path) const;

  // open(2) of `relative` ("" for the root itself) beneath root `root`, with `flags` (O_CLOEXEC
  // is always added; O_CREAT is not supported: create with openat on a returned directory).
  // Returns the descriptor, or -errno: -ENOENT / -ENOTDIR when it does not exist, -EXDEV when it
  // resolves outside every root, anything else as open(2) reports it.
  int OpenBeneath(size_t root, const std::string& relative, int flags) const;

  // The directory `relative` beneath root `root`, opened O_RDONLY | O_DIRECTORY (so it can be
  // fsynced and used with openat), created first with any missing parents (mode 0777 less the
  // umask). Each directory that gains an entry is fsynced, so created directories survive a
  // crash. Returns the descriptor or -errno, as OpenBeneath; -ENOTDIR if a component is a file.
  int OpenOrCreateDirectory(size_t root, const std::string& relative) const;

  const std::filesystem::path& root_path(size_t root) const { return roots_[root].path; }
  bool empty() const { return roots_.empty(); }

  // "outside the file roots (/data, /scratch)" or, with none, how to configure them.
  std::string OutsideMessage(const std::string& what) const;

 private:
  struct Root {
    std::filesystem::path path;  // canonical
    int fd = -1;                 // O_PATH | O_DIRECTORY
  };

  FileRoots() = default;
  int OpenResolvedInUserSpace(size_t root, const std::string& relative, int flags) const;

  std::vector<Root> roots_;  // constant after Open
  // Cleared the first time openat2 reports ENOSYS (or from the start with kUserSpace).
  mutable std::atomic<bool> use_openat2_{true};
};

}  // namespace batchd::pipeline
