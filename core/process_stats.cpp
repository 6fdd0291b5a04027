#include "core/process_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace batchd {
namespace {

Result<std::string> ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return Status::IoError(std::string("cannot read ") + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The machine's boot time in unix seconds (/proc/stat "btime"): process start times in
// /proc/self/stat count clock ticks from boot.
Result<double> BootTimeSeconds() {
  ASSIGN_OR_RETURN(std::string stat, ReadSmallFile("/proc/stat"));
  const size_t at = stat.find("\nbtime ");
  if (at == std::string::npos) return Status::IoError("/proc/stat has no btime");
  return std::stod(stat.substr(at + 7));
}

}  // namespace

Result<ProcessStats> ReadProcessStats() {
  ASSIGN_OR_RETURN(std::string stat, ReadSmallFile("/proc/self/stat"));
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. After it, field 3 (state) is index 0.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return Status::IoError("/proc/self/stat is malformed");
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  // state(3) ... utime(14) stime(15) ... num_threads(20) ... starttime(22) vsize(23) rss(24)
  if (f.size() < 22) return Status::IoError("/proc/self/stat has too few fields");
  auto field = [&](int number) { return std::stod(f[static_cast<size_t>(number - 3)]); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats p;
  p.cpu_seconds = (field(14) + field(15)) / ticks;
  p.threads = static_cast<int64_t>(field(20));
  ASSIGN_OR_RETURN(double boot, BootTimeSeconds());
  p.start_time_s = boot + field(22) / ticks;
  p.virtual_bytes = static_cast<int64_t>(field(23));
  p.resident_bytes = static_cast<int64_t>(field(24) * page);
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++p.open_fds;
  }
  return p;
}

}  // namespace batchd
