// Tokens and token files for black-box tests of authentication (docs/api.md,
// "Authentication"), and requests that carry a token.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tests/support/http_client.h"

namespace batchd::testing {

// Distinctive enough to grep a log for, and valid tokens (16+ of A-Z a-z 0-9 - . _ ~).
inline const std::string kAdminToken = "adm1n-T0KEN-4b7e9c2d-only-for-tests";
inline const std::string kReadToken = "r3ad-T0KEN-91f0a6e5-only-for-tests";

// Writes `text` to DIR/NAME (replacing it) and returns the path.
std::filesystem::path WriteTokenFile(const std::filesystem::path& dir, const std::string& text,
                                     const std::string& name = "tokens.txt");

// The standard file: one admin and one read token, with a comment and a blank line.
std::string StandardTokenFile();

// {"Authorization", "Bearer TOKEN"}, or nothing for an empty token.
HttpHeaders Bearer(const std::string& token);

// `method target` with `body` and the token (if any) plus `extra` headers.
Result<HttpResponse> CallWithToken(HttpClient& client, std::string_view method,
                                   std::string_view target, const std::string& token,
                                   std::string_view body = {}, HttpHeaders extra = {});

// Repeats `attempt` until it returns true or `timeout` passes (kUnavailable naming `what`):
// for changes the daemon makes asynchronously, such as a reload after SIGHUP.
Status WaitUntil(const std::function<bool()>& attempt, std::chrono::milliseconds timeout,
                 std::string_view what);

}  // namespace batchd::testing
