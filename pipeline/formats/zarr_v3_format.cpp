// zarr v3: the array is described by a `zarr.json` document at its root.
// https://zarr-specs.readthedocs.io/en/latest/v3/core/v3.0.html. batchd reads regular chunk
// grids, the "default" and "v2" chunk key encodings, and a codec chain of optional "transpose"
// codecs (filters), "bytes" (with its endian), at most one compressor ("zstd", "gzip",
// "blosc") and optional "crc32c" checksums; or a "sharding_indexed" codec alone whose inner
// chunks have such a chain (ShardLayout, sharded_reader.h). Anything else — nested sharding,
// storage transformers, other codecs — is refused by name (docs/pipeline.md).
#include "pipeline/formats/format_documents.h"

namespace batchd::pipeline {
namespace {

// A codec's or encoding's "name" when it is a string, "" otherwise.
std::string NameOf(const nlohmann::json& entry) {
  const nlohmann::json name = MemberOrNull(entry, "name");
  return name.is_string() ? name.get<std::string>() : std::string();
}

// entry["configuration"]: an object, {} when absent; kInvalidArgument naming `what` otherwise.
Result<nlohmann::json> Configuration(const nlohmann::json& entry, const MetadataErrors& err,
                                     const std::string& what) {
  const nlohmann::json config = MemberOrNull(entry, "configuration");
  if (config.is_null()) return nlohmann::json::object();
  if (!config.is_object()) {
    return err.Invalid("\"" + what + "\" configuration " + config.dump() + " must be an object");
  }
  return config;
}

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
    if (const nlohmann::json version = MemberOrNull(doc, "zarr_format"); version != 3) {
      return err.Invalid("\"zarr_format\" is " + version.dump() + ", expected 3");
    }
    if (const nlohmann::json node = MemberOrNull(doc, "node_type"); node != "array") {
      return err.Invalid("\"node_type\" is " + node.dump() +
                         "; the source URL must name an array, not a group");
    }
    if (auto st = doc.find("storage_transformers");
        st != doc.end() && !(st->is_array() && st->empty())) {
      return err.Invalid("\"storage_transformers\" are not supported");
    }

    ArrayMetadata m;
    m.format = "zarr3";
    ASSIGN_OR_RETURN(m.shape, err.IntList(doc, "shape"));

    const nlohmann::json data_type = MemberOrNull(doc, "data_type");
    if (!data_type.is_string()) {
      return err.Invalid("\"data_type\" " + data_type.dump() + " is unsupported");
    }
    Result<DataType> dtype = DataType::FromZarrV3(data_type.get<std::string>());
    if (!dtype.ok()) return err.Invalid("\"data_type\": " + dtype.status().message());
    m.dtype = *dtype;

    const nlohmann::json grid = MemberOrNull(doc, "chunk_grid");
    if (MemberOrNull(grid, "name") != "regular") {
      return err.Invalid("\"chunk_grid\" " + grid.dump() + " is unsupported: only regular grids");
    }
    ASSIGN_OR_RETURN(m.chunk_shape,
                     err.IntList(MemberOrNull(grid, "configuration"), "chunk_shape"));

    RETURN_IF_ERROR(ReadKeyEncoding(doc, err, m.keys));
    m.fill_value = MemberOrNull(doc, "fill_value");
    RETURN_IF_ERROR(ReadCodecs(doc, err, m));
    RETURN_IF_ERROR(err.Check(m.Validate()));
    RETURN_IF_ERROR(err.CheckFilters(codecs_, m, "codecs"));
    return m;
  }

 private:
  static Status ReadKeyEncoding(const nlohmann::json& doc, const MetadataErrors& err,
                                ChunkKeyEncoding& keys) {
    const nlohmann::json enc = MemberOrNull(doc, "chunk_key_encoding");
    const nlohmann::json name = MemberOrNull(enc, "name");
    if (name != "default" && name != "v2") {
      return err.Invalid("\"chunk_key_encoding\" " + enc.dump() +
                         " is unsupported: only \"default\" and \"v2\"");
    }
    ASSIGN_OR_RETURN(const nlohmann::json config, Configuration(enc, err, "chunk_key_encoding"));
    ASSIGN_OR_RETURN(const std::string separator,
                     err.String(config, "separator", name == "default" ? "/" : "."));
    if (separator != "." && separator != "/") {
      return err.Invalid("chunk key separator \"" + separator + "\" must be \".\" or \"/\"");
    }
    keys = {.prefix = name == "default" ? "c" : "", .separator = separator[0]};
    return Status::Ok();
  }

  Status ReadCodecs(const nlohmann::json& doc, const MetadataErrors& err, ArrayMetadata& m) const {
    const nlohmann::json codecs = MemberOrNull(doc, "codecs");
    if (!codecs.is_array() || codecs.empty()) {
      return err.Invalid("\"codecs\" must be a non-empty list");
    }
    for (size_t i = 0; i < codecs.size(); ++i) {
      if (NameOf(codecs[i]) != "sharding_indexed") continue;
      if (codecs.size() != 1) {
        return err.Invalid("codec \"sharding_indexed\" must be the only codec of the array");
      }
      return ReadSharding(codecs[0], err, m);
    }
    return ReadCodecList(codecs, err, m, "codecs");
  }

  // The "sharding_indexed" codec: the grid's chunk_shape is the shard shape, its configuration
  // names the inner chunk shape, the inner chunks' codecs, the index's codecs and where the
  // index lies. https://zarr-specs.readthedocs.io/en/latest/v3/codecs/sharding-indexed/
  Status ReadSharding(const nlohmann::json& codec, const MetadataErrors& err,
                      ArrayMetadata& m) const {
    ASSIGN_OR_RETURN(const nlohmann::json config, Configuration(codec, err, "sharding_indexed"));
    ASSIGN_OR_RETURN(const std::vector<int64_t> inner, err.IntList(config, "chunk_shape"));
    const std::vector<int64_t>& shard = m.chunk_shape;
    if (inner.size() != shard.size()) {
      return err.Invalid("sharding_indexed \"chunk_shape\" " + nlohmann::json(inner).dump() +
                         " must have the rank of the shard shape " + nlohmann::json(shard).dump());
    }
    ShardLayout layout;
    for (size_t d = 0; d < inner.size(); ++d) {
      if (inner[d] < 1 || shard[d] < 1 || shard[d] % inner[d] != 0) {
        return err.Invalid("sharding_indexed \"chunk_shape\" " + nlohmann::json(inner).dump() +
                           " must divide the shard shape " + nlohmann::json(shard).dump() +
                           " along every dimension");
      }
      layout.chunks_per_shard.push_back(shard[d] / inner[d]);
    }
    ASSIGN_OR_RETURN(const std::string location, err.String(config, "index_location", "end"));
    if (location != "start" && location != "end") {
      return err.Invalid("sharding_indexed \"index_location\" \"" + location +
                         "\" must be \"start\" or \"end\"");
    }
    layout.index_at_start = location == "start";
    RETURN_IF_ERROR(ReadIndexCodecs(MemberOrNull(config, "index_codecs"), err, layout));
    m.chunk_shape = inner;
    m.shards = std::move(layout);

    const nlohmann::json codecs = MemberOrNull(config, "codecs");
    if (!codecs.is_array() || codecs.empty()) {
      return err.Invalid("sharding_indexed \"codecs\" must be a non-empty list");
    }
    for (const nlohmann::json& inner_codec : codecs) {
      if (NameOf(inner_codec) == "sharding_indexed") {
        return err.Invalid(
            "nested sharding (sharding_indexed inside sharding_indexed) is not "
            "supported");
      }
    }
    return ReadCodecList(codecs, err, m, "sharding_indexed codecs");
  }

  // index_codecs: [bytes (little endian)] or [bytes, crc32c]; anything else would need the
  // whole index decoded differently, so it is refused by name.
  static Status ReadIndexCodecs(const nlohmann::json& codecs, const MetadataErrors& err,
                                ShardLayout& layout) {
    const std::string refused = "sharding_indexed \"index_codecs\" " + codecs.dump() +
                                " is unsupported: batchd reads [bytes (little endian)] and "
                                "[bytes, crc32c]";
    if (!codecs.is_array() || codecs.empty() || codecs.size() > 2 || NameOf(codecs[0]) != "bytes") {
      return err.Invalid(refused);
    }
    ASSIGN_OR_RETURN(const nlohmann::json bytes, Configuration(codecs[0], err, "bytes"));
    ASSIGN_OR_RETURN(const std::string endian, err.String(bytes, "endian", "little"));
    if (endian != "little") return err.Invalid(refused);
    if (codecs.size() == 2) {
      if (NameOf(codecs[1]) != "crc32c") return err.Invalid(refused);
      ASSIGN_OR_RETURN(const nlohmann::json crc, Configuration(codecs[1], err, "crc32c"));
      if (!crc.empty()) return err.Invalid(refused);
      layout.index_crc32c = true;
    }
    return Status::Ok();
  }

  // A chain of [transpose,] bytes, [compressor,] [crc32c]: the array's, or a shard's inner
  // chunks'; `member` names it in messages.
  Status ReadCodecList(const nlohmann::json& codecs, const MetadataErrors& err, ArrayMetadata& m,
                       const std::string& member) const {
    size_t i = 0;
    // array -> array codecs come first: transpose, as a filter.
    for (; i < codecs.size() && NameOf(codecs[i]) == "transpose"; ++i) {
      ASSIGN_OR_RETURN(const nlohmann::json config, Configuration(codecs[i], err, "transpose"));
      m.filters.push_back({{"id", "transpose"}, {"order", MemberOrNull(config, "order")}});
    }
    const std::string first_name = i < codecs.size() ? NameOf(codecs[i]) : std::string();
    if (first_name != "bytes") {
      return err.Invalid("codec \"" + first_name + "\" in " + member +
                         " is unsupported: the chain must be [transpose,] \"bytes\", ...");
    }
    ASSIGN_OR_RETURN(const nlohmann::json bytes_config, Configuration(codecs[i], err, "bytes"));
    ASSIGN_OR_RETURN(const std::string endian, err.String(bytes_config, "endian", "little"));
    if (endian != "little" && endian != "big") {
      return err.Invalid("\"bytes\" endian \"" + endian + "\" must be little or big");
    }
    m.dtype.big_endian = m.dtype.size > 1 && endian == "big";
    ++i;

    m.codec = {{"id", "raw"}};
    if (i < codecs.size() && NameOf(codecs[i]) != "crc32c") {
      ASSIGN_OR_RETURN(m.codec, CompressorConfig(codecs[i], err, m.dtype));
      ++i;
    }
    // crc32c last: a checksum of the stored bytes, verified on read.
    for (; i < codecs.size() && NameOf(codecs[i]) == "crc32c"; ++i) {
      ASSIGN_OR_RETURN(const nlohmann::json config, Configuration(codecs[i], err, "crc32c"));
      if (!config.empty()) {
        return err.Invalid("codec \"crc32c\" configuration " + config.dump() +
                           " has members; it has none");
      }
      m.outer_codecs.push_back({{"id", "crc32c"}});
    }
    if (i < codecs.size()) {
      const std::string name = NameOf(codecs[i]);
      return err.Invalid("codec \"" + (name.empty() ? codecs[i].dump() : name) +
                         "\" is unsupported here: batchd reads [transpose,] \"bytes\", at most one "
                         "compressor, then [crc32c]");
    }
    return err.CheckCodec(codecs_, m.codec, m.dtype, member);
  }

  // A zarr v3 bytes -> bytes codec as a CodecRegistry config.
  static Result<nlohmann::json> CompressorConfig(const nlohmann::json& codec,
                                                 const MetadataErrors& err, const DataType& dtype) {
    const std::string name = NameOf(codec);
    ASSIGN_OR_RETURN(const nlohmann::json config, Configuration(codec, err, name));
    // Members are passed on as they are: CheckCodec then refuses a wrong type or range with
    // the codec's own message ("zstd: \"level\" must be an integer, got string").
    auto member = [&config](const char* key, nlohmann::json fallback) {
      return config.contains(key) ? config[key] : fallback;
    };
    if (name == "zstd") {
      // The frame's own checksum (configuration.checksum) is verified by libzstd on decode.
      return nlohmann::json{{"id", "zstd"}, {"level", member("level", 0)}};
    }
    if (name == "gzip") {
      // The zarr v3 gzip codec: one gzip member, as numcodecs' GZip writes.
      return nlohmann::json{{"id", "gzip"}, {"level", member("level", 5)}};
    }
    if (name == "blosc") {
      Result<int> shuffle = BloscShuffle(member("shuffle", "noshuffle"));
      if (!shuffle.ok()) return err.Invalid(shuffle.status().message());
      return nlohmann::json{{"id", "blosc"},
                            {"cname", member("cname", "lz4")},
                            {"clevel", member("clevel", 5)},
                            {"shuffle", *shuffle},
                            {"blocksize", member("blocksize", 0)}};
    }
    return err.Invalid("codec \"" + name + "\" is unsupported (supported after \"bytes\": zstd, " +
                       "gzip, blosc)");
  }

  const CodecRegistry& codecs_;
};

}  // namespace

std::unique_ptr<ArrayFormat> MakeZarrV3Format(const CodecRegistry& codecs) {
  return std::make_unique<ZarrV3Format>(codecs);
}

}  // namespace batchd::pipeline
