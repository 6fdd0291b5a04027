// zarr v3: the array is described by a `zarr.json` document at its root.
// https://zarr-specs.readthedocs.io/en/latest/v3/core/v3.0.html. batchd reads regular chunk
// grids, the "default" and "v2" chunk key encodings, and a codec chain of "bytes" (with its
// endian) optionally followed by one compressor ("zstd", "blosc"). Anything else — transpose,
// sharding, storage transformers, other codecs — is refused by name (docs/pipeline.md).
#include "pipeline/format_documents.h"

namespace batchd::pipeline {
namespace {

// zarr v3 spells blosc's shuffle as a word; numcodecs (our codec configs) as a number.
Result<int> BloscShuffle(const nlohmann::json& value) {
  if (value == "noshuffle") return 0;
  if (value == "shuffle") return 1;
  if (value == "bitshuffle") return 2;
  return Status::InvalidArgument("blosc \"shuffle\" " + value.dump() +
                                 " must be noshuffle, shuffle or bitshuffle");
}

class ZarrV3Format final : public ArrayFormat {
 public:
  explicit ZarrV3Format(const CodecRegistry& codecs) : codecs_(codecs) {}

  Result<ArrayMetadata> Open(ChunkStore& store, const nlohmann::json&) const override {
    ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonDocument(store, "zarr.json"));
    MetadataErrors err(store, "zarr.json");
    if (!doc.is_object()) return err.Invalid("must be a JSON object");
    if (doc.value("zarr_format", 0) != 3) {
      return err.Invalid("\"zarr_format\" is " + doc.value("zarr_format", nlohmann::json()).dump() +
                         ", expected 3");
    }
    if (doc.value("node_type", std::string()) != "array") {
      return err.Invalid("\"node_type\" is " + doc.value("node_type", nlohmann::json()).dump() +
                         "; the source URL must name an array, not a group");
    }
    if (auto st = doc.find("storage_transformers");
        st != doc.end() && !(st->is_array() && st->empty())) {
      return err.Invalid("\"storage_transformers\" are not supported");
    }

    ArrayMetadata m;
    m.format = "zarr3";
    ASSIGN_OR_RETURN(m.shape, err.IntList(doc, "shape"));

    const nlohmann::json data_type = doc.value("data_type", nlohmann::json());
    if (!data_type.is_string()) {
      return err.Invalid("\"data_type\" " + data_type.dump() + " is unsupported");
    }
    Result<DataType> dtype = DataType::FromZarrV3(data_type.get<std::string>());
    if (!dtype.ok()) return err.Invalid("\"data_type\": " + dtype.status().message());
    m.dtype = *dtype;

    const nlohmann::json grid = doc.value("chunk_grid", nlohmann::json());
    if (!grid.is_object() || grid.value("name", std::string()) != "regular") {
      return err.Invalid("\"chunk_grid\" " + grid.dump() + " is unsupported: only regular grids");
    }
    ASSIGN_OR_RETURN(
        m.chunk_shape,
        err.IntList(grid.value("configuration", nlohmann::json::object()), "chunk_shape"));

    RETURN_IF_ERROR(ReadKeyEncoding(doc, err, m.keys));
    m.fill_value = doc.value("fill_value", nlohmann::json());
    RETURN_IF_ERROR(ReadCodecs(doc, err, m));
    RETURN_IF_ERROR(err.Check(m.Validate()));
    return m;
  }

 private:
  static Status ReadKeyEncoding(const nlohmann::json& doc, const MetadataErrors& err,
                                ChunkKeyEncoding& keys) {
    const nlohmann::json enc = doc.value("chunk_key_encoding", nlohmann::json());
    const std::string name = enc.is_object() ? enc.value("name", std::string()) : std::string();
    if (name != "default" && name != "v2") {
      return err.Invalid("\"chunk_key_encoding\" " + enc.dump() +
                         " is unsupported: only \"default\" and \"v2\"");
    }
    const nlohmann::json config = enc.value("configuration", nlohmann::json::object());
    const std::string separator =
        config.value("separator", std::string(name == "default" ? "/" : "."));
    if (separator != "." && separator != "/") {
      return err.Invalid("chunk key separator \"" + separator + "\" must be \".\" or \"/\"");
    }
    keys = {.prefix = name == "default" ? "c" : "", .separator = separator[0]};
    return Status::Ok();
  }

  Status ReadCodecs(const nlohmann::json& doc, const MetadataErrors& err, ArrayMetadata& m) const {
    const nlohmann::json codecs = doc.value("codecs", nlohmann::json());
    if (!codecs.is_array() || codecs.empty()) {
      return err.Invalid("\"codecs\" must be a non-empty list");
    }
    size_t i = 0;
    // array -> array codecs would come first; none is supported.
    const nlohmann::json& first = codecs[0];
    const std::string first_name =
        first.is_object() ? first.value("name", first.dump()) : first.dump();
    if (first_name != "bytes") {
      return err.Invalid("codec \"" + first_name +
                         "\" is unsupported: the chain must start with \"bytes\"" +
                         (first_name == "sharding_indexed" ? " (sharding is not supported)" : ""));
    }
    const nlohmann::json bytes_config = first.value("configuration", nlohmann::json::object());
    const std::string endian = bytes_config.value("endian", std::string("little"));
    if (endian != "little" && endian != "big") {
      return err.Invalid("\"bytes\" endian \"" + endian + "\" must be little or big");
    }
    m.dtype.big_endian = m.dtype.size > 1 && endian == "big";
    ++i;

    m.codec = {{"id", "raw"}};
    if (i < codecs.size()) {
      ASSIGN_OR_RETURN(m.codec, CompressorConfig(codecs[i], err, m.dtype));
      ++i;
    }
    if (i < codecs.size()) {
      return err.Invalid("codec \"" + codecs[i].value("name", codecs[i].dump()) +
                         "\" is unsupported: batchd reads \"bytes\" plus at most one compressor");
    }
    return err.CheckCodec(codecs_, m.codec, m.dtype, "codecs");
  }

  // A zarr v3 bytes -> bytes codec as a CodecRegistry config.
  static Result<nlohmann::json> CompressorConfig(const nlohmann::json& codec,
                                                 const MetadataErrors& err, const DataType& dtype) {
    const std::string name = codec.is_object() ? codec.value("name", std::string()) : "";
    const nlohmann::json config = codec.value("configuration", nlohmann::json::object());
    if (name == "zstd") {
      // The frame's own checksum (configuration.checksum) is verified by libzstd on decode.
      return nlohmann::json{{"id", "zstd"}, {"level", config.value("level", 0)}};
    }
    if (name == "blosc") {
      Result<int> shuffle = BloscShuffle(config.value("shuffle", nlohmann::json("noshuffle")));
      if (!shuffle.ok()) return err.Invalid(shuffle.status().message());
      return nlohmann::json{{"id", "blosc"},
                            {"cname", config.value("cname", std::string("lz4"))},
                            {"clevel", config.value("clevel", 5)},
                            {"shuffle", *shuffle},
                            {"blocksize", config.value("blocksize", 0)}};
    }
    return err.Invalid("codec \"" + name + "\" is unsupported (supported after \"bytes\": zstd, " +
                       "blosc)");
  }

  const CodecRegistry& codecs_;
};

}  // namespace

std::unique_ptr<ArrayFormat> MakeZarrV3Format(const CodecRegistry& codecs) {
  return std::make_unique<ZarrV3Format>(codecs);
}

}  // namespace batchd::pipeline
