#include <exception>

#include "pipeline/filters/builtin_filters.h"
#include "pipeline/filters/filter.h"

namespace batchd::pipeline {

void FilterRegistry::Register(std::string id, Factory factory) {
  factories_.Register(std::move(id), std::move(factory));
}

Result<std::unique_ptr<const Filter>> FilterRegistry::Create(const nlohmann::json& config,
                                                             const FilterContext& context) const {
  if (!config.is_object()) {
    return Status::InvalidArgument(std::string("filter config must be a JSON object, got ") +
                                   config.type_name());
  }
  auto id_member = config.find("id");
  if (id_member == config.end()) {
    return Status::InvalidArgument("filter config has no \"id\"", "/id");
  }
  if (!id_member->is_string()) {
    return Status::InvalidArgument(
        std::string("filter \"id\" must be a string, got ") + id_member->type_name(), "/id");
  }
  const std::string& id = id_member->get_ref<const std::string&>();
  const Factory* factory = factories_.Find(id);
  if (factory == nullptr) {
    return Status::InvalidArgument(
        "unknown filter \"" + id + "\" (known: " + factories_.KnownNames() + ")", "/id");
  }
  // Factories report through Result; this only keeps a stray library exception inside
  // pipeline/.
  try {
    return (*factory)(config, context);
  } catch (const std::exception& e) {
    return Status::Internal(id + ": creating the filter failed: " + e.what());
  }
}

void RegisterBuiltinFilters(FilterRegistry& registry) {
  registry.Register("delta", CreateDeltaFilter);
  registry.Register("fixedscaleoffset", CreateFixedScaleOffsetFilter);
  registry.Register("transpose", CreateTransposeFilter);
}

}  // namespace batchd::pipeline
