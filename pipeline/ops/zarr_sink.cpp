#include "pipeline/ops/zarr_sink.h"

#include <cmath>
#include <cstring>

namespace batchd::pipeline {

nlohmann::json FillValueForZarrV2(const ArrayMetadata& array) {
  const nlohmann::json& fill = array.fill_value;
  if (!fill.is_string() || array.dtype.kind != DataType::Kind::kFloat) return fill;
  Result<std::array<uint8_t, 8>> element = array.FillElement();
  if (!element.ok()) return fill;
  double v = 0;
  if (array.dtype.size == 4) {
    float f;
    std::memcpy(&f, element->data(), 4);
    v = f;
  } else {
    std::memcpy(&v, element->data(), 8);
  }
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

Status CheckSinkIsCompatible(ChunkStore& sink, const ArrayMetadata& out, const std::string& op) {
  ASSIGN_OR_RETURN(std::optional<Bytes> existing, ReadKey(sink, ".zarray"));
  if (!existing) return Status::Ok();
  nlohmann::json doc = nlohmann::json::parse(existing->begin(), existing->end(), nullptr, false);
  const bool same = !doc.is_discarded() && doc.is_object() &&
                    doc.value("shape", nlohmann::json()) == out.shape &&
                    doc.value("chunks", nlohmann::json()) == out.chunk_shape &&
                    doc.value("dtype", nlohmann::json()) == out.dtype.ToNumpy();
  if (same) return Status::Ok();
  return Status::InvalidArgument(
      sink.url() + " already holds a different array (shape, chunks or dtype); " + op +
          " writes only into an empty sink or one of the same array",
      "/sink/url");
}

}  // namespace batchd::pipeline
