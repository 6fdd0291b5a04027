// zarr v2: the array is described by a `.zarray` JSON document at its root.
// https://zarr-specs.readthedocs.io/en/latest/v2/v2.0.html; what batchd accepts of it is in
// docs/pipeline.md ("Formats").
#include "pipeline/formats/format_documents.h"

namespace batchd::pipeline {
namespace {

class ZarrV2Format final : public ArrayFormat {
 public:
  explicit ZarrV2Format(const CodecRegistry& codecs) : codecs_(codecs) {}

  Result<ArrayMetadata> Open(ChunkStore& store, const nlohmann::json&) const override {
    ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonDocument(store, ".zarray"));
    MetadataErrors err(store, ".zarray");
    if (!doc.is_object()) return err.Invalid("must be a JSON object");
    if (const nlohmann::json version = MemberOrNull(doc, "zarr_format"); version != 2) {
      return err.Invalid("\"zarr_format\" is " + version.dump() + ", expected 2");
    }
    ArrayMetadata m;
    m.format = "zarr2";
    ASSIGN_OR_RETURN(m.shape, err.IntList(doc, "shape"));
    ASSIGN_OR_RETURN(m.chunk_shape, err.IntList(doc, "chunks"));

    const nlohmann::json dtype = MemberOrNull(doc, "dtype");
    if (!dtype.is_string()) {
      return err.Invalid("\"dtype\" " + dtype.dump() +
                         " is unsupported: structured dtypes are not supported");
    }
    Result<DataType> parsed = DataType::FromNumpy(dtype.get<std::string>());
    if (!parsed.ok()) return err.Invalid("\"dtype\": " + parsed.status().message());
    m.dtype = *parsed;

    ASSIGN_OR_RETURN(const std::string order, err.String(doc, "order", "C"));
    if (order != "C" && order != "F") {
      return err.Invalid("\"order\" is \"" + order + "\"; expected \"C\" or \"F\"");
    }
    // An F-order chunk is the C-order chunk of the transposed array: a transpose (reversing the
    // dimensions) comes first in the chain, so the ops always see C order.
    const size_t rank = m.chunk_shape.size();
    if (order == "F" && rank > 1) {
      std::vector<int64_t> reversed(rank);
      for (size_t d = 0; d < rank; ++d) reversed[d] = static_cast<int64_t>(rank - 1 - d);
      m.filters.push_back({{"id", "transpose"}, {"order", reversed}});
    }
    if (const nlohmann::json filters = MemberOrNull(doc, "filters"); !filters.is_null()) {
      if (!filters.is_array()) {
        return err.Invalid("\"filters\" must be null or a list of filter configs, got " +
                           filters.dump());
      }
      for (const nlohmann::json& filter : filters) m.filters.push_back(filter);
    }
    ASSIGN_OR_RETURN(const std::string separator, err.String(doc, "dimension_separator", "."));
    if (separator != "." && separator != "/") {
      return err.Invalid("\"dimension_separator\" \"" + separator + "\" must be \".\" or \"/\"");
    }
    m.keys = {.prefix = "", .separator = separator[0]};
    m.fill_value = MemberOrNull(doc, "fill_value");

    const nlohmann::json compressor = MemberOrNull(doc, "compressor");
    m.codec = compressor.is_null() ? nlohmann::json{{"id", "raw"}} : compressor;
    if (MemberOrNull(m.codec, "id") == "crc32c") {
      // Ours is zarr v3's (the checksum after the bytes); numcodecs spells its own differently.
      return err.Invalid(
          "\"compressor\" crc32c is unsupported: it is read in zarr v3 codec chains");
    }
    RETURN_IF_ERROR(err.CheckCodec(codecs_, m.codec, m.dtype, "compressor"));
    RETURN_IF_ERROR(err.Check(m.Validate()));
    RETURN_IF_ERROR(err.CheckFilters(codecs_, m, "filters"));
    return m;
  }

 private:
  const CodecRegistry& codecs_;
};

}  // namespace

std::unique_ptr<ArrayFormat> MakeZarrV2Format(const CodecRegistry& codecs) {
  return std::make_unique<ZarrV2Format>(codecs);
}

std::string ZarrV2ArrayDocument(const ArrayMetadata& array) {
  const bool raw = array.codec.value("id", std::string()) == "raw";
  nlohmann::json compressor = raw ? nlohmann::json() : array.codec;
  // numcodecs before 0.12 (Debian 12 has 0.11) refuses a "checksum" member in a Zstd config;
  // leave it out when it says what an absent one means anyway.
  if (!raw && compressor.value("id", std::string()) == "zstd" &&
      compressor.value("checksum", false) == false) {
    compressor.erase("checksum");
  }
  nlohmann::json doc = {
      {"zarr_format", 2},
      {"shape", array.shape},
      {"chunks", array.chunk_shape},
      {"dtype", array.dtype.ToNumpy()},
      {"compressor", compressor},
      {"fill_value", array.fill_value},
      {"order", "C"},
      {"filters", nullptr},
      {"dimension_separator", std::string(1, array.keys.separator)},
  };
  return doc.dump(4);
}

}  // namespace batchd::pipeline
