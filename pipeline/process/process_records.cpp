#include "pipeline/process/process_records.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/process/process_group.h"

namespace batchd::pipeline {
namespace {

constexpr auto kKillWait = std::chrono::seconds(10);
constexpr auto kKillPoll = std::chrono::milliseconds(20);

Status WriteDurably(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0)
    return Status::IoError("cannot create " + temp.string() + ": " + std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    ::unlink(temp.c_str());
    return Status::IoError("cannot write " + temp.string() + ": " + std::strerror(err));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    return Status::IoError("cannot rename " + temp.string() + ": " + std::strerror(e));
  }
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

// The live (not zombie) processes of group `pgid` that started no earlier than its recorded
// leader: later members of that very group, or nothing.
std::vector<pid_t> LiveMembers(pid_t pgid, uint64_t start_ticks) {
  std::vector<pid_t> members;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    std::optional<ProcStat> stat = ReadProcStat(pid);
    if (stat && stat->pgrp == pgid && stat->state != 'Z' && stat->start_ticks >= start_ticks) {
      members.push_back(pid);
    }
  }
  return members;
}

// Whether group `pgid` is still the one that was recorded.
bool StillOurs(pid_t pgid, uint64_t start_ticks) {
  if (std::optional<ProcStat> leader = ReadProcStat(pgid)) {
    // The leader (maybe a zombie nobody reaped) is the recorded process, or the pid was reused.
    return leader->start_ticks == start_ticks;
  }
  // The leader is gone but its group may live on: the group id stays taken while any member
  // lives, so members started no earlier than the leader are its own.
  return !LiveMembers(pgid, start_ticks).empty();
}

}  // namespace

std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::filesystem::path ProcessRecords::NotePath(int64_t session_id) const {
  return dir_ / ("session-" + std::to_string(session_id) + ".json");
}

Status ProcessRecords::Record(int64_t session_id, pid_t pgid, uint64_t start_ticks) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IoError("cannot create " + dir_.string() + ": " + ec.message());
  const nlohmann::json note = {{"session_id", session_id},
                               {"pgid", pgid},
                               {"start_ticks", start_ticks},
                               {"boot_id", BootId()}};
  return WriteDurably(NotePath(session_id), note.dump());
}

void ProcessRecords::Forget(int64_t session_id) const { ::unlink(NotePath(session_id).c_str()); }

Result<int> ProcessRecords::KillLeftovers() const {
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return 0;
  std::vector<std::filesystem::path> notes;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    notes.push_back(entry.path());
  }
  if (ec) return Status::IoError("cannot list " + dir_.string() + ": " + ec.message());
  const std::string boot = BootId();
  int killed = 0;
  for (const std::filesystem::path& path : notes) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json note = nlohmann::json::parse(text.str(), nullptr, false);
    const bool readable = path.extension() == ".json" && note.is_object() &&
                          note.value("pgid", 0) > 1 && note.contains("start_ticks") &&
                          note["start_ticks"].is_number_unsigned();
    if (readable && note.value("boot_id", std::string()) == boot) {
      const pid_t pgid = note["pgid"].get<pid_t>();
      const uint64_t start = note["start_ticks"].get<uint64_t>();
      if (StillOurs(pgid, start)) {
        ::kill(-pgid, SIGKILL);
        ++killed;
        const auto give_up = std::chrono::steady_clock::now() + kKillWait;
        while (!LiveMembers(pgid, start).empty() && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(kKillPoll);
        }
      }
    }
    std::filesystem::remove(path, ec);
  }
  return killed;
}

}  // namespace batchd::pipeline
