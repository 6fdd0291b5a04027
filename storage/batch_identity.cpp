#include "storage/batch_identity.h"

#include <charconv>
#include <random>

namespace batchd::storage {

std::string NewPublicId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = rng();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return id;
}

std::string JoinShape(const std::vector<uint64_t>& lengths) {
  std::string s;
  for (uint64_t n : lengths) {
    if (!s.empty()) s.push_back(',');
    s.append(std::to_string(n));
  }
  return s;
}

std::vector<uint64_t> SplitShape(std::string_view text) {
  std::vector<uint64_t> out;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    uint64_t v = 0;
    p = std::from_chars(p, end, v).ptr;
    out.push_back(v);
    if (p < end) ++p;  // the comma
  }
  return out;
}

}  // namespace batchd::storage
