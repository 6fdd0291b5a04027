#include "pipeline/stores/store_key.h"

#include <string>

namespace batchd::pipeline {
namespace {

Status Refuse(std::string_view key, std::string_view why) {
  return Status::InvalidArgument("store key \"" + std::string(key) + "\" " + std::string(why));
}

}  // namespace

Status ValidateStoreKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("store key is empty");
  if (key.find('\0') != std::string_view::npos) return Refuse(key, "contains a NUL byte");
  if (key.front() == '/') return Refuse(key, "must be relative (it starts with \"/\")");
  size_t begin = 0;
  for (;;) {
    size_t end = key.find('/', begin);
    std::string_view part =
        key.substr(begin, end == std::string_view::npos ? key.npos : end - begin);
    if (part.empty()) return Refuse(key, "has an empty path component");
    if (part == "." || part == "..") {
      return Refuse(key, "has a \"" + std::string(part) + "\" path component");
    }
    if (end == std::string_view::npos) return Status::Ok();
    begin = end + 1;
  }
}

}  // namespace batchd::pipeline
