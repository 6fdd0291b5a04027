// Parsing request bodies strictly: RFC 8259 says an object's names SHOULD be unique and leaves
// what a duplicate means to the parser (nlohmann keeps the last, another reader the first), so a
// body with `"ms": 1, "ms": 1e13` meant different things to different readers. batchd refuses
// them instead, naming the duplicate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace batchd {

// A member named twice in one object: its name and the JSON Pointer of the second occurrence.
struct DuplicateMember {
  std::string name;
  std::string pointer;
};

// Parses `text` into `out` like nlohmann::json::parse (and throws what it throws for text that
// is not JSON), but stops at the first object that names a member twice and returns it; `out`
// is then unspecified.
std::optional<DuplicateMember> ParseRejectingDuplicates(std::string_view text, nlohmann::json& out);

}  // namespace batchd
