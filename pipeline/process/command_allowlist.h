// Which programs the `command` op may run: the daemon's --allow-command entries, absolute
// paths of executables or of directories holding them (docs/command.md, "Safety"). Empty, the
// op is off.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchd::pipeline {

class CommandAllowlist {
 public:
  CommandAllowlist() = default;  // empty: nothing may run

  // Each entry must be an absolute path that exists (an executable file or a directory); it is
  // kept as its real path (symlinks resolved). kInvalidArgument naming the entry otherwise.
  static Result<CommandAllowlist> Create(const std::vector<std::string>& entries);

  bool empty() const { return entries_.empty(); }
  // The entries as given, for messages.
  const std::vector<std::string>& given() const { return given_; }

  // The real path of the program a job's argv[0] names, if it may run. An absolute argv[0] is
  // resolved with realpath and must be an allowed executable or lie under an allowed
  // directory. A bare name ("python3", no '/') is never looked up in PATH: it names the allowed
  // executable of that file name (as given or resolved), else the first allowed directory's
  // executable of that name. A relative path with a '/' ("./x") is refused: it would depend on
  // the working directory. kInvalidArgument naming argv[0] and the path it resolved to
  // otherwise; the file must also be executable.
  Result<std::string> Resolve(std::string_view argv0) const;

 private:
  struct Entry {
    std::string real;  // realpath of the entry
    bool directory = false;
    std::string given_name;  // file name of the entry as given (a symlink's own name)
  };
  bool Allows(const std::string& real) const;
  std::vector<Entry> entries_;
  std::vector<std::string> given_;
};

}  // namespace batchd::pipeline
