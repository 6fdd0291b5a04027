// `--log-format json` (daemon/json_log_formatter.h): every line is one JSON object with time,
// level and message, whatever the message holds. (The daemon's real log in this format is
// parsed line by line in tests/integration/log_format_test.cpp.)
#include "daemon/json_log_formatter.h"

#include <gtest/gtest.h>

#include <regex>

#include <spdlog/details/log_msg.h>
#include <nlohmann/json.hpp>

#include "core/json_string.h"

namespace batchd::daemon {
namespace {

using nlohmann::json;

std::string Format(spdlog::level::level_enum level, std::string_view text,
                   std::string_view logger = "") {
  JsonLogFormatter f;
  spdlog::details::log_msg msg(spdlog::string_view_t(logger.data(), logger.size()), level,
                               spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(JsonLogFormatterTest, ALineIsOneObjectWithTimeLevelAndMessage) {
  const std::string line = Format(spdlog::level::warn, "writer: commit failed");
  ASSERT_TRUE(line.ends_with("}\n")) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  const json j = json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "writer: commit failed");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["time"];
  EXPECT_TRUE(j["thread"].is_number_integer());
  EXPECT_FALSE(j.contains("logger"));
}

TEST(JsonLogFormatterTest, LevelsUseTheLogLevelFlagsNames) {
  EXPECT_EQ(json::parse(Format(spdlog::level::trace, "x"))["level"], "trace");
  EXPECT_EQ(json::parse(Format(spdlog::level::debug, "x"))["level"], "debug");
  EXPECT_EQ(json::parse(Format(spdlog::level::info, "x"))["level"], "info");
  EXPECT_EQ(json::parse(Format(spdlog::level::err, "x"))["level"], "error");
  EXPECT_EQ(json::parse(Format(spdlog::level::critical, "x"))["level"], "critical");
}

TEST(JsonLogFormatterTest, QuotesControlCharactersAndNewlinesStayInsideTheString) {
  const std::string message = "a \"quoted\" \\path\\\nsecond line\ttab\x01\x7f end";
  const std::string line = Format(spdlog::level::info, message, "batchd");
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const json j = json::parse(line);
  EXPECT_EQ(j["message"], message);
  EXPECT_EQ(j["logger"], "batchd");
}

TEST(JsonLogFormatterTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  // Valid: é (2 bytes), € (3), 😀 (4). Invalid: a lone continuation byte, a truncated
  // sequence, an overlong '/', a surrogate.
  const std::string valid = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  const std::string line =
      Format(spdlog::level::info, valid + "|\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|");
  const json j = json::parse(line);  // throws on invalid UTF-8
  EXPECT_EQ(j["message"], valid +
                              "|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|");
}

TEST(JsonLogFormatterTest, AppendJsonStringWritesAQuotedLiteral) {
  std::string out;
  AppendJsonString(out, "x\"y");
  EXPECT_EQ(out, "\"x\\\"y\"");
  out.clear();
  AppendJsonString(out, "");
  EXPECT_EQ(out, "\"\"");
}

}  // namespace
}  // namespace batchd::daemon
