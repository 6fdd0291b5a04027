// Reads the members of one codec's JSON config (codec.h), with errors that name the codec and
// the member, so a bad "compressor" in a zarr array's metadata is reported as, e.g.,
// `blosc: "clevel" must be between 0 and 9, got 12` with the JSON Pointer "/clevel".
//
// Every getter returns the member's value, its default when the member is absent, or
// kInvalidArgument (wrong JSON type, out of range). Call RejectUnknownMembers() last: a member
// no getter asked for is a typo or an option this build does not implement, and silently
// ignoring it would write data that another reader decodes differently.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/registry.h"
#include "core/status.h"

namespace batchd::pipeline {

// The "id" of a codec or filter config (`kind` is "codec" or "filter", for the messages):
// kInvalidArgument unless `config` is a JSON object with a string "id" member (path "/id").
Result<std::string> ConfigId(const nlohmann::json& config, std::string_view kind);

// The factory `config`'s "id" names in `factories`, with that id; kInvalidArgument (path "/id")
// when ConfigId refuses the config or the id is not registered (the message lists those that
// are). The pointer is owned by `factories`.
template <typename Factory>
struct ConfiguredFactory {
  std::string id;
  const Factory* factory;
};
template <typename Factory>
Result<ConfiguredFactory<Factory>> FindConfiguredFactory(const Registry<Factory>& factories,
                                                         const nlohmann::json& config,
                                                         std::string_view kind) {
  ASSIGN_OR_RETURN(std::string id, ConfigId(config, kind));
  const Factory* factory = factories.Find(id);
  if (factory == nullptr) {
    return Status::InvalidArgument(
        "unknown " + std::string(kind) + " \"" + id + "\" (known: " + factories.KnownNames() + ")",
        "/id");
  }
  return ConfiguredFactory<Factory>{std::move(id), factory};
}

class CodecConfigReader {
 public:
  // `config` must outlive the reader. Its "id" member is taken as read.
  CodecConfigReader(std::string_view codec_id, const nlohmann::json& config);

  // kInvalidArgument unless the config is a JSON object.
  Status CheckIsObject() const;

  // An integer in [min, max]. Floats (even 3.0) and strings are refused.
  Result<int64_t> Integer(std::string_view member, int64_t default_value, int64_t min, int64_t max);
  Result<std::string> String(std::string_view member, std::string default_value);
  Result<bool> Boolean(std::string_view member, bool default_value);
  // A finite JSON number (integer or not); kInvalidArgument when it is absent and
  // `default_value` is nullopt (the member is required), or not a finite number.
  Result<double> Number(std::string_view member, std::optional<double> default_value);

  // The member as it is, nullptr when absent, for a member no getter reads (a list); it counts
  // as read.
  const nlohmann::json* Raw(std::string_view member) { return Find(member); }

  // Whether the config has the member (it is not marked as read).
  bool Has(std::string_view member) const;

  // kInvalidArgument naming the first member (in key order) that no getter read.
  Status RejectUnknownMembers() const;

  // `<codec id>: <what>`, with the member's JSON Pointer as the Status path.
  Status Invalid(std::string_view member, std::string_view what) const;

 private:
  // nullptr when the member is absent; marks it as read.
  const nlohmann::json* Find(std::string_view member);

  std::string codec_id_;
  const nlohmann::json& config_;
  std::set<std::string, std::less<>> read_members_;
};

}  // namespace batchd::pipeline
