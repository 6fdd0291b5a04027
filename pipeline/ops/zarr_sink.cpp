#include "pipeline/ops/zarr_sink.h"

#include <cmath>
#include <cstring>

#include "pipeline/formats/array_format.h"

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
  const bool zarr3 = out.format == "zarr3";
  ASSIGN_OR_RETURN(std::optional<Bytes> existing, ReadKey(sink, zarr3 ? "zarr.json" : ".zarray"));
  if (!existing) return Status::Ok();
  nlohmann::json doc = nlohmann::json::parse(existing->begin(), existing->end(), nullptr, false);
  bool same =
      !doc.is_discarded() && doc.is_object() && doc.value("shape", nlohmann::json()) == out.shape;
  if (same && zarr3) {
    // The same document batchd would write, up to the codec and attributes: grid and inner
    // chunks compared through what this sink would get.
    Result<std::string> mine = ZarrV3ArrayDocument(out, nlohmann::json());
    const nlohmann::json ours = mine.ok() ? nlohmann::json::parse(*mine) : nlohmann::json();
    auto inner = [](const nlohmann::json& d) -> nlohmann::json {
      auto codecs = d.find("codecs");
      if (codecs == d.end() || !codecs->is_array() || codecs->empty()) return nullptr;
      const nlohmann::json& first = (*codecs)[0];
      if (!first.is_object() || first.value("name", nlohmann::json()) != "sharding_indexed") {
        return nullptr;
      }
      auto config = first.find("configuration");
      if (config == first.end() || !config->is_object()) return nullptr;
      return config->value("chunk_shape", nlohmann::json());
    };
    same =
        doc.value("data_type", nlohmann::json()) == out.dtype.ToZarrV3() &&
        doc.value("chunk_grid", nlohmann::json()) == ours.value("chunk_grid", nlohmann::json()) &&
        inner(doc) == inner(ours);
  } else if (same) {
    same = doc.value("chunks", nlohmann::json()) == out.chunk_shape &&
           doc.value("dtype", nlohmann::json()) == out.dtype.ToNumpy();
  }
  if (same) return Status::Ok();
  return Status::InvalidArgument(
      sink.url() + " already holds a different array (shape, chunks or dtype); " + op +
          " writes only into an empty sink or one of the same array",
      "/sink/url");
}

}  // namespace batchd::pipeline
