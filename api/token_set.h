// The bearer tokens a daemon accepts (docs/api.md, "Authentication"), read from a token file:
// one token per line as `admin:TOKEN` or `read:TOKEN`; blank lines and lines starting with `#`
// are ignored. A token is 16 to 256 characters from A-Z a-z 0-9 - . _ ~ (so it travels unchanged
// in a header, a WebSocket subprotocol and a URL).
//
// Secrets stay secret: no message produced here ever quotes a token or a line of the file, only
// line numbers. Lookups take the same time whatever the presented token shares with the real
// ones (see Find).
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchd::api {

// What a token allows. kRead: reading (GET) and the event stream; kAdmin: everything.
enum class Role { kRead, kAdmin };

inline constexpr size_t kMinTokenLength = 16;
inline constexpr size_t kMaxTokenLength = 256;

class TokenSet {
 public:
  // Parses the text of a token file. kInvalidArgument "line N: why" for the first bad line, or
  // when the text holds no token at all. Messages never contain the line's text.
  static Result<TokenSet> Parse(std::string_view text);

  // The role of `presented`, or nullopt if it is none of the tokens. Every stored token is
  // compared in full (no early exit, fixed-length comparisons), so the time taken says nothing
  // about how much of a real token the presented one matches.
  std::optional<Role> Find(std::string_view presented) const;

  size_t admin_count() const;
  size_t read_count() const;

 private:
  struct Entry {
    std::array<unsigned char, kMaxTokenLength> bytes{};  // zero-padded
    size_t length = 0;
    Role role = Role::kRead;
  };
  std::vector<Entry> entries_;
};

// Reads and parses `path`. kIoError naming the path if it cannot be read; kInvalidArgument
// "PATH line N: why" for a bad file.
Result<TokenSet> LoadTokenFile(const std::filesystem::path& path);

}  // namespace batchd::api
