#include "pipeline/codecs/codec_config.h"

#include <cmath>

namespace batchd::pipeline {

Result<std::string> ConfigId(const nlohmann::json& config, std::string_view kind) {
  const std::string what(kind);
  if (!config.is_object()) {
    return Status::InvalidArgument(what + " config must be a JSON object, got " +
                                   config.type_name());
  }
  auto id = config.find("id");
  if (id == config.end()) return Status::InvalidArgument(what + " config has no \"id\"", "/id");
  if (!id->is_string()) {
    return Status::InvalidArgument(what + " \"id\" must be a string, got " + id->type_name(),
                                   "/id");
  }
  return id->get<std::string>();
}

CodecConfigReader::CodecConfigReader(std::string_view codec_id, const nlohmann::json& config)
    : codec_id_(codec_id), config_(config), read_members_{"id"} {}

Status CodecConfigReader::CheckIsObject() const {
  if (config_.is_object()) return Status::Ok();
  return Status::InvalidArgument(codec_id_ + ": config must be a JSON object, got " +
                                 config_.type_name());
}

const nlohmann::json* CodecConfigReader::Find(std::string_view member) {
  read_members_.emplace(member);
  if (!config_.is_object()) return nullptr;
  auto it = config_.find(member);
  return it == config_.end() ? nullptr : &*it;
}

Status CodecConfigReader::Invalid(std::string_view member, std::string_view what) const {
  return Status::InvalidArgument(
      codec_id_ + ": \"" + std::string(member) + "\" " + std::string(what),
      "/" + std::string(member));
}

Result<int64_t> CodecConfigReader::Integer(std::string_view member, int64_t default_value,
                                           int64_t min, int64_t max) {
  const nlohmann::json* value = Find(member);
  if (value == nullptr) return default_value;
  if (!value->is_number_integer()) {
    return Invalid(member, std::string("must be an integer, got ") + value->type_name());
  }
  const std::string range = "must be between " + std::to_string(min) + " and " +
                            std::to_string(max) + ", got " + value->dump();
  // An unsigned value above INT64_MAX is out of every range we accept.
  if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t{INT64_MAX}) {
    return Invalid(member, range);
  }
  const int64_t integer = value->get<int64_t>();
  if (integer < min || integer > max) return Invalid(member, range);
  return integer;
}

Result<std::string> CodecConfigReader::String(std::string_view member, std::string default_value) {
  const nlohmann::json* value = Find(member);
  if (value == nullptr) return default_value;
  if (!value->is_string()) {
    return Invalid(member, std::string("must be a string, got ") + value->type_name());
  }
  return value->get<std::string>();
}

Result<bool> CodecConfigReader::Boolean(std::string_view member, bool default_value) {
  const nlohmann::json* value = Find(member);
  if (value == nullptr) return default_value;
  if (!value->is_boolean()) {
    return Invalid(member, std::string("must be true or false, got ") + value->type_name());
  }
  return value->get<bool>();
}

Result<double> CodecConfigReader::Number(std::string_view member,
                                         std::optional<double> default_value) {
  const nlohmann::json* value = Find(member);
  if (value == nullptr) {
    if (default_value) return *default_value;
    return Invalid(member, "is missing: it must be a number");
  }
  if (!value->is_number()) {
    return Invalid(member, std::string("must be a number, got ") + value->type_name());
  }
  const double number = value->get<double>();
  if (!std::isfinite(number)) return Invalid(member, "must be finite, got " + value->dump());
  return number;
}

bool CodecConfigReader::Has(std::string_view member) const {
  return config_.is_object() && config_.find(member) != config_.end();
}

Status CodecConfigReader::RejectUnknownMembers() const {
  if (!config_.is_object()) return Status::Ok();
  for (const auto& [key, value] : config_.items()) {
    if (!read_members_.contains(key)) {
      return Invalid(key, "is not an option of this codec");
    }
  }
  return Status::Ok();
}

}  // namespace batchd::pipeline
