#include "daemon/json_log_formatter.h"

#include <chrono>
#include <ctime>

#include <spdlog/spdlog.h>

#include "core/json_string.h"

namespace batchd::daemon {
namespace {

const char* LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  const auto since_epoch = msg.time.time_since_epoch();
  const std::time_t seconds =
      static_cast<std::time_t>(duration_cast<std::chrono::seconds>(since_epoch).count());
  const int millis = static_cast<int>(duration_cast<milliseconds>(since_epoch).count() % 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char time[40];
  const size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(time + n, sizeof time - n, ".%03dZ", millis);

  std::string line;
  line.reserve(96 + msg.payload.size());
  line += "{\"time\":\"";
  line += time;
  line += "\",\"level\":\"";
  line += LevelName(msg.level);
  line += "\",\"message\":";
  AppendJsonString(line, std::string_view(msg.payload.data(), msg.payload.size()));
  if (msg.logger_name.size() > 0) {
    line += ",\"logger\":";
    AppendJsonString(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  }
  line += ",\"thread\":";
  line += std::to_string(msg.thread_id);
  line += "}\n";
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

void SetLogFormat(const std::string& format) {
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
}

}  // namespace batchd::daemon
