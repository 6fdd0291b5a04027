// `--log-format json`: every log line is one JSON object, for log shippers that index fields
// instead of parsing text:
//   {"time":"2026-11-22T08:00:00.123Z","level":"info","message":"...","thread":1234}
// `time` is UTC with milliseconds; `level` is one of trace, debug, info, warn, error, critical
// (the --log-level names). The message is escaped so the line is valid JSON whatever it holds:
// quotes, control characters, and bytes that are not UTF-8 (a path from a client, say), which
// become U+FFFD.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

namespace batchd::daemon {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Installs the text pattern ("text") or the JSON formatter ("json") on every spdlog logger.
void SetLogFormat(const std::string& format);

}  // namespace batchd::daemon
