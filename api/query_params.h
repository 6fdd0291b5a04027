// Parsing of request targets and of the query parameters shared by list endpoints. Errors are
// kMalformed with the path "?name", which the API answers as 400 invalid_query.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "core/status.h"

namespace batchd::api {

// `limit`: an integer in [1, max]; `fallback` when absent.
Result<int> ParseLimit(const HttpRequest& request, int fallback, int max);

// `cursor`: the decimal id from a previous page's next_cursor; nullopt when absent.
Result<std::optional<int64_t>> ParseCursor(const HttpRequest& request);

// `name` as a strict positive decimal integer (path ids such as a session id).
std::optional<int64_t> ParsePositiveId(const std::string& text);

// Decodes %XX escapes (and '+' as space when `plus_is_space`); invalid escapes stay as they are.
std::string PercentDecode(const std::string& text, bool plus_is_space);

// Splits "a=1&b=x%20y" into a decoded map; a name given twice keeps its last value and, when
// `repeated` is given, the first such name is stored there.
std::map<std::string, std::string> ParseQueryString(const std::string& query,
                                                    std::optional<std::string>* repeated = nullptr);

// kMalformed at "?name" when the request named a query parameter twice: which of two values
// counts differs between readers (a proxy, a cache, us), so neither is guessed.
Status RefuseRepeatedQuery(const HttpRequest& request);

// The request as handlers see it, from the request line's target ("/a/b?x=1"): the path
// percent-decoded ('+' stays '+'), the query string parsed. Any bytes are accepted; a decoded
// path may hold bytes that are not UTF-8, which responses must survive quoting.
HttpRequest RequestFromTarget(std::string method, std::string_view target, std::string body);

}  // namespace batchd::api
