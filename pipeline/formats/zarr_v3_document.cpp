// The zarr.json transcode writes for a zarr v3 sink: the reverse of ZarrV3Format's reading, for
// the subset batchd writes (a regular grid, the "default" key encoding, [bytes, compressor]
// chunks, or those as the inner chunks of a sharding_indexed codec with its index at the end and
// a CRC-32C). https://zarr-specs.readthedocs.io/en/latest/v3/core/v3.0.html
#include "pipeline/formats/array_format.h"

namespace batchd::pipeline {
namespace {

// A codec config (CodecRegistry's spelling) as a zarr v3 bytes -> bytes codec, or null for
// "raw" (nothing after "bytes").
Result<nlohmann::json> V3Compressor(const nlohmann::json& codec, const DataType& dtype) {
  const std::string id = codec.value("id", std::string());
  if (id == "raw") return nlohmann::json();
  if (id == "zstd") {
    return nlohmann::json{
        {"name", "zstd"},
        {"configuration",
         {{"level", codec.value("level", 0)}, {"checksum", codec.value("checksum", false)}}}};
  }
  if (id == "gzip") {
    return nlohmann::json{{"name", "gzip"},
                          {"configuration", {{"level", codec.value("level", 5)}}}};
  }
  if (id == "blosc") {
    static const char* const kShuffles[] = {"noshuffle", "shuffle", "bitshuffle"};
    const int shuffle = codec.value("shuffle", 0);
    if (shuffle < 0 || shuffle > 2) {
      return Status::InvalidArgument(
          "blosc \"shuffle\" " + std::to_string(shuffle) +
          " has no zarr v3 spelling: a zarr v3 sink takes 0 (noshuffle), 1 (shuffle) or 2 "
          "(bitshuffle)");
    }
    return nlohmann::json{{"name", "blosc"},
                          {"configuration",
                           {{"cname", codec.value("cname", std::string("lz4"))},
                            {"clevel", codec.value("clevel", 5)},
                            {"shuffle", kShuffles[shuffle]},
                            {"typesize", dtype.size},
                            {"blocksize", codec.value("blocksize", 0)}}}};
  }
  return Status::InvalidArgument("codec \"" + id +
                                 "\" has no zarr v3 codec; a zarr v3 sink takes zstd, gzip, "
                                 "blosc or none (null)");
}

nlohmann::json BytesCodec(const DataType& dtype) {
  nlohmann::json bytes = {{"name", "bytes"}};
  if (dtype.size > 1) bytes["configuration"] = {{"endian", dtype.big_endian ? "big" : "little"}};
  return bytes;
}

}  // namespace

Result<std::string> ZarrV3ArrayDocument(const ArrayMetadata& array,
                                        const nlohmann::json& attributes) {
  nlohmann::json chunk_codecs = nlohmann::json::array({BytesCodec(array.dtype)});
  ASSIGN_OR_RETURN(nlohmann::json compressor, V3Compressor(array.codec, array.dtype));
  if (!compressor.is_null()) chunk_codecs.push_back(std::move(compressor));

  std::vector<int64_t> grid_chunks = array.chunk_shape;
  nlohmann::json codecs = chunk_codecs;
  if (array.shards) {
    for (size_t d = 0; d < grid_chunks.size(); ++d) {
      grid_chunks[d] *= array.shards->chunks_per_shard[d];
    }
    nlohmann::json index_codecs =
        nlohmann::json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}});
    if (array.shards->index_crc32c) index_codecs.push_back({{"name", "crc32c"}});
    codecs = nlohmann::json::array(
        {{{"name", "sharding_indexed"},
          {"configuration",
           {{"chunk_shape", array.chunk_shape},
            {"codecs", std::move(chunk_codecs)},
            {"index_codecs", std::move(index_codecs)},
            {"index_location", array.shards->index_at_start ? "start" : "end"}}}}});
  }
  // zarr v3 has no "no fill value"; a zarr v2 null reads as 0 in batchd, so it is written so.
  const nlohmann::json fill = array.fill_value.is_null() ? nlohmann::json(0) : array.fill_value;
  nlohmann::json doc = {
      {"zarr_format", 3},
      {"node_type", "array"},
      {"shape", array.shape},
      {"data_type", array.dtype.ToZarrV3()},
      {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", grid_chunks}}}}},
      {"chunk_key_encoding",
       {{"name", array.keys.prefix == "c" ? "default" : "v2"},
        {"configuration", {{"separator", std::string(1, array.keys.separator)}}}}},
      {"fill_value", fill},
      {"codecs", std::move(codecs)},
      {"attributes", attributes.is_object() ? attributes : nlohmann::json::object()},
  };
  return doc.dump(4);
}

}  // namespace batchd::pipeline
