// zarr v2 consolidated metadata (`.zmetadata`, zarr-python's consolidate_metadata): one document
// in a group holding the metadata of every member, so a reader of a remote group opens it with
// one request (zarr.open_consolidated) instead of one per member. A sink written into such a
// group must be added to it, or readers of the consolidated document never see it.
//
// The document: {"zarr_consolidated_format": 1, "metadata": {".zgroup": {...},
// "NAME/.zarray": {...}, "NAME/.zattrs": {...}, ...}}.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

// Where an array at `array_url` sits in its parent: the parent's URL and the array's name in it
// ("file:///d/g/a.zarr/" -> {"file:///d/g", "a.zarr"}). nullopt when the URL has no parent
// below its scheme and authority (s3://bucket, file:///a), a query or fragment, or a name that
// cannot be a member (".", "..").
struct GroupMember {
  std::string group_url;
  std::string name;
};
std::optional<GroupMember> ParentGroupOf(const std::string& array_url);

// Sets `name`'s entries in `group`'s .zmetadata: "NAME/.zarray" to `zarray` and "NAME/.zattrs"
// to `zattrs` (removed when `zattrs` is not an object); every other entry is kept as it was.
// Blocking (ReadKey/WriteKey: not on a store thread), and not atomic against another writer of
// the same document: callers serialize their updates. Ok without a write when the group has no
// .zmetadata (nothing consolidated to keep true). InvalidArgument naming the key when the
// document is not consolidated metadata of format 1; the document is then left as it was.
Status UpdateConsolidatedMetadata(ChunkStore& group, const std::string& name,
                                  const nlohmann::json& zarray, const nlohmann::json& zattrs);

}  // namespace batchd::pipeline
