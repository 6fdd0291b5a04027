#include "tests/support/sample_batches.h"

namespace batchd::testing {
namespace {

nlohmann::json NoopTemplate() {
  return nlohmann::json::parse(R"({
    "op": "noop",
    "source": {"url": "file:///data/a.zarr/t2m"},
    "region": null,
    "params": {"level": 0, "note": "kept as is"}
  })");
}

}  // namespace

nlohmann::json ZippedAndProductBatch(const std::string& name) {
  nlohmann::json batch = {
      {"name", name},     {"priority", 5},     {"runs", 2},
      {"max_running", 3}, {"max_attempts", 2}, {"template", NoopTemplate()},
  };
  batch["data"] = nlohmann::json::parse(R"([
    [
      {"field": "/source/url",
       "items": ["file:///data/a.zarr/t2m", "file:///data/a.zarr/u10", "file:///data/b.zarr/sp"]},
      {"field": "/params/level", "items": [850, 500.5, null]}
    ],
    [
      {"field": "/region",
       "items": [[[0, 8], [0, 16]], [[8, 16], [0, 16]], null, [[0, 1], [0, 1]]]}
    ]
  ])");
  return batch;
}

nlohmann::json SimpleBatch(const std::string& name, int64_t items, int64_t runs) {
  nlohmann::json levels = nlohmann::json::array();
  for (int64_t i = 0; i < items; ++i) levels.push_back(i * 10);
  return {
      {"name", name},
      {"runs", runs},
      {"template", NoopTemplate()},
      {"data", {{{{"field", "/params/level"}, {"items", levels}}}}},
  };
}

}  // namespace batchd::testing
