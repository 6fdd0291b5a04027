#include "core/strict_json.h"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace batchd {
namespace {

using json = nlohmann::json;

// "~" and "/" escaped as RFC 6901 says.
std::string PointerToken(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// nlohmann's DOM builder, with each object's names tracked to find a duplicate. Every event is
// forwarded; the builder stops at the first duplicate.
class DuplicateCheckingSax {
 public:
  explicit DuplicateCheckingSax(json& result) : dom_(result, /*allow_exceptions=*/true) {}

  bool null() { return Value() && dom_.null(); }
  bool boolean(bool v) { return Value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return Value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return Value() && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return Value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return Value() && dom_.binary(v); }

  bool start_object(std::size_t n) {
    frames_.push_back({.array = false});
    return dom_.start_object(n);
  }
  bool key(json::string_t& name) {
    Frame& f = frames_.back();
    f.key = name;
    if (!f.keys.insert(name).second) {
      duplicate_ = Pointer();
      duplicate_name_ = name;
      return false;
    }
    return dom_.key(name);
  }
  bool end_object() {
    frames_.pop_back();
    ElementEnded();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    frames_.push_back({.array = true});
    return dom_.start_array(n);
  }
  bool end_array() {
    frames_.pop_back();
    ElementEnded();
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& token,
                   const nlohmann::detail::exception& e) {
    return dom_.parse_error(position, token, e);
  }

  const std::optional<std::string>& duplicate() const { return duplicate_; }
  const std::string& duplicate_name() const { return duplicate_name_; }

 private:
  struct Frame {
    bool array = false;
    int64_t index = 0;  // arrays: the current element
    std::string key;    // objects: the current member
    std::unordered_set<std::string> keys;
  };

  // A scalar is a whole element of an array.
  bool Value() {
    ElementEnded();
    return true;
  }
  void ElementEnded() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  std::string Pointer() const {
    std::string out;
    for (const Frame& f : frames_) {
      out += '/';
      out += f.array ? std::to_string(f.index) : PointerToken(f.key);
    }
    return out;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<Frame> frames_;
  std::optional<std::string> duplicate_;
  std::string duplicate_name_;
};

}  // namespace

std::optional<DuplicateMember> ParseRejectingDuplicates(std::string_view text, json& out) {
  DuplicateCheckingSax sax(out);
  json::sax_parse(text, &sax);
  if (!sax.duplicate()) return std::nullopt;
  return DuplicateMember{sax.duplicate_name(), *sax.duplicate()};
}

}  // namespace batchd
