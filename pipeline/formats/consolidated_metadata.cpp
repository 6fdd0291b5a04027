#include "pipeline/formats/consolidated_metadata.h"

namespace batchd::pipeline {

std::optional<GroupMember> ParentGroupOf(const std::string& array_url) {
  if (array_url.find_first_of("?#") != std::string::npos) return std::nullopt;
  const size_t scheme = array_url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  std::string url = array_url;
  while (url.size() > scheme + 3 && url.back() == '/') url.pop_back();
  // The path starts after the authority (empty for file:///).
  const size_t path = url.find('/', scheme + 3);
  if (path == std::string::npos) return std::nullopt;
  const size_t slash = url.rfind('/');
  // The parent must keep a path of its own: "file:///a" has none left, "s3://bucket/a" either.
  if (slash <= path) return std::nullopt;
  GroupMember member{url.substr(0, slash), url.substr(slash + 1)};
  if (member.name.empty() || member.name == "." || member.name == "..") return std::nullopt;
  return member;
}

Status UpdateConsolidatedMetadata(ChunkStore& group, const std::string& name,
                                  const nlohmann::json& zarray, const nlohmann::json& zattrs) {
  const std::string where = group.url() + "/.zmetadata";
  ASSIGN_OR_RETURN(std::optional<Bytes> existing, ReadKey(group, ".zmetadata"));
  if (!existing) return Status::Ok();
  nlohmann::json doc = nlohmann::json::parse(existing->begin(), existing->end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("zarr_consolidated_format", 0) != 1 ||
      !doc.contains("metadata") || !doc["metadata"].is_object()) {
    return Status::InvalidArgument(
        where +
        " is not zarr v2 consolidated metadata (an object with \"zarr_consolidated_format\": 1 "
        "and a \"metadata\" object); left as it was");
  }
  nlohmann::json& metadata = doc["metadata"];
  metadata[name + "/.zarray"] = zarray;
  if (zattrs.is_object()) {
    metadata[name + "/.zattrs"] = zattrs;
  } else {
    metadata.erase(name + "/.zattrs");
  }
  const std::string text = doc.dump(4);
  Status written = WriteKey(group, ".zmetadata", Bytes(text.begin(), text.end()));
  if (!written.ok()) {
    return Status(written.code(), "writing " + where + ": " + written.message());
  }
  return Status::Ok();
}

}  // namespace batchd::pipeline
