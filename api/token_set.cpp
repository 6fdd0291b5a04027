#include "api/token_set.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace batchd::api {
namespace {

bool IsTokenChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Why `token` cannot be a token, or empty. Says what is wrong without quoting it.
std::string CheckToken(std::string_view token) {
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
    return "a token must be " + std::to_string(kMinTokenLength) + " to " +
           std::to_string(kMaxTokenLength) + " characters long, this one has " +
           std::to_string(token.size());
  }
  if (!std::all_of(token.begin(), token.end(),
                   [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); })) {
    return "a token may only hold letters, digits and - . _ ~";
  }
  return {};
}

// Equal in content and length, comparing all kMaxTokenLength bytes whatever the inputs: the
// loop's length and branches depend only on the presented token's length, which its sender
// knows anyway.
bool ConstantTimeEquals(std::string_view presented,
                        const std::array<unsigned char, kMaxTokenLength>& stored,
                        size_t stored_length) {
  unsigned diff = presented.size() == stored_length ? 0u : 1u;
  for (size_t i = 0; i < kMaxTokenLength; ++i) {
    const unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned>(p ^ stored[i]);
  }
  return diff == 0;
}

}  // namespace

Result<TokenSet> TokenSet::Parse(std::string_view text) {
  TokenSet set;
  size_t line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(line_number) + ": ";
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(where + "expected admin:TOKEN or read:TOKEN");
    }
    const std::string_view role = Trim(line.substr(0, colon));
    Entry entry;
    if (role == "admin") {
      entry.role = Role::kAdmin;
    } else if (role == "read") {
      entry.role = Role::kRead;
    } else {
      return Status::InvalidArgument(where + "the role before ':' must be admin or read");
    }
    const std::string_view token = Trim(line.substr(colon + 1));
    if (std::string why = CheckToken(token); !why.empty()) {
      return Status::InvalidArgument(where + why);
    }
    if (set.Find(token).has_value()) {
      return Status::InvalidArgument(where + "this token is already listed on an earlier line");
    }
    std::copy(token.begin(), token.end(), entry.bytes.begin());
    entry.length = token.size();
    set.entries_.push_back(entry);
  }
  if (set.entries_.empty()) {
    return Status::InvalidArgument("no tokens (expected lines like admin:TOKEN or read:TOKEN)");
  }
  return set;
}

std::optional<Role> TokenSet::Find(std::string_view presented) const {
  // No early exit: a match on the first entry costs as much as a match on the last, or none.
  std::optional<Role> found;
  if (presented.size() > kMaxTokenLength) return found;
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(presented, e.bytes, e.length)) found = e.role;
  }
  return found;
}

size_t TokenSet::admin_count() const {
  return std::count_if(entries_.begin(), entries_.end(),
                       [](const Entry& e) { return e.role == Role::kAdmin; });
}

size_t TokenSet::read_count() const { return entries_.size() - admin_count(); }

Result<TokenSet> LoadTokenFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IoError("cannot read the token file " + path.string() + ": " +
                           std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read the token file " + path.string());
  Result<TokenSet> set = TokenSet::Parse(text.str());
  if (!set.ok()) {
    return Status::InvalidArgument("token file " + path.string() + ": " + set.status().message());
  }
  return set;
}

}  // namespace batchd::api
