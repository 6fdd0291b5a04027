#include "tests/support/api_assertions.h"

#include <algorithm>
#include <regex>

namespace batchd::testing {

::testing::AssertionResult IsApiError(const HttpResponse& response, int status,
                                      const std::string& code,
                                      const std::vector<std::string>& paths) {
  auto failure = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << "\n  response: " << response.Describe();
  };
  if (response.status != status) {
    return failure("expected HTTP " + std::to_string(status) + " " + code);
  }
  auto content_type = response.headers.find("content-type");
  if (content_type == response.headers.end() ||
      content_type->second.rfind("application/json", 0) != 0) {
    return failure("error responses must be application/json");
  }
  nlohmann::json body = response.Json();
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) {
    return failure("expected a body {\"error\": {...}}");
  }
  const nlohmann::json& error = body["error"];
  if (!error.contains("code") || error["code"] != code) {
    return failure("expected error.code \"" + code + "\"");
  }
  if (!error.contains("message") || !error["message"].is_string() ||
      error["message"].get<std::string>().empty()) {
    return failure("expected a non-empty string error.message");
  }
  if (!error.contains("path") || !error["path"].is_string()) {
    return failure("expected a string error.path");
  }
  const std::string path = error["path"].get<std::string>();
  if (!paths.empty() && std::find(paths.begin(), paths.end(), path) == paths.end()) {
    std::string wanted;
    for (const auto& p : paths) wanted += (wanted.empty() ? "\"" : " or \"") + p + "\"";
    return failure("expected error.path " + wanted + ", got \"" + path + "\"");
  }
  return ::testing::AssertionSuccess();
}

nlohmann::json AllUninitialized(int64_t n) {
  return {
      {"uninitialized", n}, {"in_progress", 0}, {"completed", 0}, {"error", 0}, {"canceled", 0}};
}

bool IsUtcTimestamp(const nlohmann::json& text) {
  static const std::regex kPattern(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z)");
  return text.is_string() && std::regex_match(text.get<std::string>(), kPattern);
}

}  // namespace batchd::testing
