// Thin helpers over HttpClient for the v1 API (docs/api.md): expect a status, parse the JSON,
// walk keyset-paginated lists. Each failure message carries the request and the response.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tests/support/http_client.h"

namespace batchd::testing {

// GET `target`; the body as JSON if the status is `expected_status` and the body is JSON.
Result<nlohmann::json> GetJson(HttpClient& client, std::string_view target,
                               int expected_status = 200);

// POST `body` (as application/json) to `target`; as GetJson.
Result<nlohmann::json> PostJson(HttpClient& client, std::string_view target,
                                const nlohmann::json& body, int expected_status);

struct Pages {
  std::vector<nlohmann::json> items;  // every item of every page, in order
  std::vector<size_t> page_sizes;     // items per page, in order
};

// Walks a list endpoint from its first page, passing each `next_cursor` back as `?cursor=`
// until it is null. `query` is the rest of the query string without `?` (e.g. "limit=5").
// Fails if a page is not {"items": [...], "next_cursor": string|null}, if a cursor repeats
// (the walk would never end), or after `max_pages`.
Result<Pages> FetchAllPages(HttpClient& client, std::string_view path, std::string_view query,
                            size_t max_pages = 10000);

}  // namespace batchd::testing
