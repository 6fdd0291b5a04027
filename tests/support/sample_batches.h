// Valid v1 batch documents for tests, small enough to check session by session.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace batchd::testing {

// Two groups: a zipped pair of datums with 3 items ("/source/url" and "/params/level"), then
// "/region" with 4 items; `runs` 2. 3 * 4 * 2 = 24 sessions. Items mix strings, numbers,
// arrays and null, so values must round-trip as JSON, not as strings.
nlohmann::json ZippedAndProductBatch(const std::string& name = "zip-product");

// One group of `items` integers at "/params/level", repeated `runs` times: items * runs sessions.
nlohmann::json SimpleBatch(const std::string& name, int64_t items, int64_t runs = 1);

}  // namespace batchd::testing
