#include "tests/support/api_calls.h"

#include <set>

namespace batchd::testing {
namespace {

Result<nlohmann::json> ExpectJson(const Result<HttpResponse>& response, std::string_view request,
                                  int expected_status) {
  if (!response.ok()) {
    return Status(response.status().code(),
                  std::string(request) + ": " + response.status().message());
  }
  if (response->status != expected_status) {
    return Status::InvalidArgument(std::string(request) + ": expected HTTP " +
                                   std::to_string(expected_status) + ", got " +
                                   response->Describe());
  }
  nlohmann::json body = response->Json();
  if (body.is_discarded()) {
    return Status::Malformed(std::string(request) + ": body is not JSON: " + response->body);
  }
  return body;
}

}  // namespace

Result<nlohmann::json> GetJson(HttpClient& client, std::string_view target, int expected_status) {
  return ExpectJson(client.Get(target), "GET " + std::string(target), expected_status);
}

Result<nlohmann::json> PostJson(HttpClient& client, std::string_view target,
                                const nlohmann::json& body, int expected_status) {
  return ExpectJson(client.Post(target, body.dump()), "POST " + std::string(target),
                    expected_status);
}

Result<Pages> FetchAllPages(HttpClient& client, std::string_view path, std::string_view query,
                            size_t max_pages) {
  Pages pages;
  std::set<std::string> seen_cursors;
  std::string cursor;
  for (size_t n = 0; n < max_pages; ++n) {
    std::string target(path);
    std::string separator = "?";
    if (!query.empty()) {
      target += separator + std::string(query);
      separator = "&";
    }
    if (n > 0) target += separator + "cursor=" + UrlEncode(cursor);

    ASSIGN_OR_RETURN(nlohmann::json page, GetJson(client, target));
    if (!page.is_object() || !page.contains("items") || !page["items"].is_array() ||
        !page.contains("next_cursor") ||
        !(page["next_cursor"].is_null() || page["next_cursor"].is_string())) {
      return Status::InvalidArgument("GET " + target + ": not a list page: " + page.dump());
    }
    pages.page_sizes.push_back(page["items"].size());
    for (auto& item : page["items"]) pages.items.push_back(std::move(item));
    if (page["next_cursor"].is_null()) return pages;

    cursor = page["next_cursor"].get<std::string>();
    if (!seen_cursors.insert(cursor).second) {
      return Status::InvalidArgument("GET " + target + ": next_cursor \"" + cursor +
                                     "\" was already returned: the walk would not end");
    }
  }
  return Status::InvalidArgument(std::string(path) + ": more than " + std::to_string(max_pages) +
                                 " pages");
}

}  // namespace batchd::testing
