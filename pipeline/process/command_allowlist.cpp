#include "pipeline/process/command_allowlist.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace batchd::pipeline {
namespace {

// realpath(3): nullopt with errno set if the path does not resolve.
std::optional<std::string> RealPath(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) return std::nullopt;
  return std::string(buffer);
}

bool IsExecutableFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<CommandAllowlist> CommandAllowlist::Create(const std::vector<std::string>& entries) {
  CommandAllowlist list;
  for (const std::string& given : entries) {
    if (given.empty() || given[0] != '/') {
      return Status::InvalidArgument(
          "--allow-command takes absolute paths of executables or directories, got '" + given + "'",
          "--allow-command");
    }
    std::optional<std::string> real = RealPath(given);
    if (!real) {
      return Status::InvalidArgument(
          "--allow-command '" + given + "' does not exist: " + std::strerror(errno),
          "--allow-command");
    }
    std::error_code ec;
    const bool directory = std::filesystem::is_directory(*real, ec);
    if (!directory && !IsExecutableFile(*real)) {
      return Status::InvalidArgument(
          "--allow-command '" + given + "' is neither a directory nor an executable file",
          "--allow-command");
    }
    list.entries_.push_back({*real, directory, std::filesystem::path(given).filename().string()});
    list.given_.push_back(given);
  }
  return list;
}

bool CommandAllowlist::Allows(const std::string& real) const {
  for (const Entry& e : entries_) {
    if (!e.directory && real == e.real) return true;
    if (e.directory && real.size() > e.real.size() && real.starts_with(e.real) &&
        (e.real == "/" || real[e.real.size()] == '/')) {
      return true;
    }
  }
  return false;
}

Result<std::string> CommandAllowlist::Resolve(std::string_view argv0) const {
  const std::string name(argv0);
  auto refuse = [&](const std::string& why) {
    std::string allowed;
    for (const std::string& g : given_) allowed += (allowed.empty() ? "" : ", ") + g;
    return Status::InvalidArgument("argv[0] \"" + name + "\" " + why + "; the daemon's " +
                                   "--allow-command list is " +
                                   (allowed.empty() ? std::string("empty") : allowed));
  };
  if (name.empty()) return refuse("is empty");
  std::string candidate;
  if (name.find('/') == std::string::npos) {
    for (const Entry& e : entries_) {
      if (!e.directory &&
          (e.given_name == name || std::filesystem::path(e.real).filename() == name)) {
        candidate = e.real;
        break;
      }
    }
    for (size_t i = 0; candidate.empty() && i < entries_.size(); ++i) {
      if (!entries_[i].directory) continue;
      const std::string inside = entries_[i].real + (entries_[i].real == "/" ? "" : "/") + name;
      if (IsExecutableFile(inside)) candidate = inside;
    }
    if (candidate.empty()) return refuse("names no allowed executable (PATH is not searched)");
  } else if (name[0] != '/') {
    return refuse("is a relative path; give an absolute path or a bare name");
  } else {
    candidate = name;
  }
  std::optional<std::string> real = RealPath(candidate);
  if (!real) return refuse("does not exist (" + candidate + ")");
  if (!Allows(*real)) return refuse("resolves to " + *real + ", outside the allowed paths");
  if (!IsExecutableFile(*real)) return refuse("resolves to " + *real + ", not an executable file");
  return *real;
}

}  // namespace batchd::pipeline
