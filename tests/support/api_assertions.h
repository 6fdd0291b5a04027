// GoogleTest predicates for the shapes docs/api.md promises: the error body and a batch's
// session counts. They return AssertionResult so a failure names the whole response.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"

namespace batchd::testing {

// `response` is `status` with {"error": {"code": code, "message": non-empty, "path": p}} and p
// one of `paths` (usually exactly one; an empty list accepts any string path).
::testing::AssertionResult IsApiError(const HttpResponse& response, int status,
                                      const std::string& code,
                                      const std::vector<std::string>& paths);

inline ::testing::AssertionResult IsApiError(const HttpResponse& response, int status,
                                             const std::string& code, const std::string& path) {
  return IsApiError(response, status, code, std::vector<std::string>{path});
}

// {"uninitialized": n, "in_progress": 0, "completed": 0, "error": 0, "canceled": 0}.
nlohmann::json AllUninitialized(int64_t n);

// True if `text` looks like "2026-11-22T08:00:00.123Z" (UTC, optional fraction).
bool IsUtcTimestamp(const nlohmann::json& text);

}  // namespace batchd::testing
