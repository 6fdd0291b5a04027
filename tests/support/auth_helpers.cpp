#include "tests/support/auth_helpers.h"

#include <fstream>
#include <thread>

namespace batchd::testing {

std::filesystem::path WriteTokenFile(const std::filesystem::path& dir, const std::string& text,
                                     const std::string& name) {
  const std::filesystem::path path = dir / name;
  // Written beside and renamed into place, so a reload never reads half a file.
  const std::filesystem::path temp = dir / (name + ".tmp");
  std::ofstream(temp, std::ios::trunc) << text;
  std::filesystem::rename(temp, path);
  return path;
}

std::string StandardTokenFile() {
  return "# batchd tokens for tests\n\nadmin:" + kAdminToken + "\n  read:" + kReadToken + "  \n";
}

HttpHeaders Bearer(const std::string& token) {
  if (token.empty()) return {};
  return {{"Authorization", "Bearer " + token}};
}

Result<HttpResponse> CallWithToken(HttpClient& client, std::string_view method,
                                   std::string_view target, const std::string& token,
                                   std::string_view body, HttpHeaders extra) {
  HttpHeaders headers = Bearer(token);
  headers.insert(headers.end(), extra.begin(), extra.end());
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return client.Request(method, target, body, headers);
}

Status WaitUntil(const std::function<bool()>& attempt, std::chrono::milliseconds timeout,
                 std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (attempt()) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("gave up waiting for " + std::string(what) + " after " +
                                 std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace batchd::testing
