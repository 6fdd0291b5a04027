#include "pipeline/formats/array_metadata.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace batchd::pipeline {
namespace {

// A decoded chunk is held in memory whole; refuse absurd chunk shapes up front.
constexpr int64_t kMaxChunkBytes = int64_t{2} << 30;

Status BadFill(const nlohmann::json& fill, const DataType& dtype, const std::string& why) {
  return Status::InvalidArgument("fill_value " + fill.dump() + " does not fit dtype " +
                                 dtype.ToNumpy() + ": " + why);
}

template <typename T>
std::array<uint8_t, 8> ElementBytes(T value) {
  std::array<uint8_t, 8> out{};
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

Result<std::array<uint8_t, 8>> FloatFill(const nlohmann::json& fill, const DataType& dtype) {
  double v = 0;
  if (fill.is_number()) {
    v = fill.get<double>();
  } else if (fill.is_string()) {
    const std::string s = fill.get<std::string>();
    if (s == "NaN") {
      v = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "Infinity") {
      v = std::numeric_limits<double>::infinity();
    } else if (s == "-Infinity") {
      v = -std::numeric_limits<double>::infinity();
    } else if (s.starts_with("0x") && s.size() == 2 + 2 * static_cast<size_t>(dtype.size)) {
      // zarr v3: the element's bit pattern, big-endian hex.
      uint64_t bits = 0;
      for (char c : s.substr(2)) {
        const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                          : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                          : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                      : -1;
        if (digit < 0) return BadFill(fill, dtype, "not a hex bit pattern");
        bits = (bits << 4) | static_cast<uint64_t>(digit);
      }
      if (dtype.size == 4) return ElementBytes(static_cast<uint32_t>(bits));
      return ElementBytes(bits);
    } else {
      return BadFill(fill, dtype, "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
    }
  } else {
    return BadFill(fill, dtype, "expected a number");
  }
  if (dtype.size == 4) return ElementBytes(static_cast<float>(v));
  return ElementBytes(v);
}

Result<std::array<uint8_t, 8>> IntegerFill(const nlohmann::json& fill, const DataType& dtype) {
  if (!fill.is_number()) return BadFill(fill, dtype, "expected an integer");
  const bool is_signed = dtype.kind == DataType::Kind::kInt;
  int64_t s = 0;
  uint64_t u = 0;
  if (fill.is_number_unsigned()) {
    u = fill.get<uint64_t>();
    if (is_signed && u > static_cast<uint64_t>(INT64_MAX)) return BadFill(fill, dtype, "too large");
    s = static_cast<int64_t>(u);
  } else if (fill.is_number_integer()) {
    s = fill.get<int64_t>();
    if (!is_signed && s < 0) return BadFill(fill, dtype, "negative for an unsigned type");
    u = static_cast<uint64_t>(s);
  } else {
    const double d = fill.get<double>();
    if (d != std::floor(d) || std::abs(d) > 9.007199254740992e15) {
      return BadFill(fill, dtype, "not an integer");
    }
    s = static_cast<int64_t>(d);
    if (!is_signed && s < 0) return BadFill(fill, dtype, "negative for an unsigned type");
    u = static_cast<uint64_t>(s);
  }
  const int bits = dtype.size * 8;
  if (is_signed) {
    if (bits < 64 && (s < -(int64_t{1} << (bits - 1)) || s >= (int64_t{1} << (bits - 1)))) {
      return BadFill(fill, dtype, "out of range");
    }
    switch (dtype.size) {
      case 1:
        return ElementBytes(static_cast<int8_t>(s));
      case 2:
        return ElementBytes(static_cast<int16_t>(s));
      case 4:
        return ElementBytes(static_cast<int32_t>(s));
      default:
        return ElementBytes(s);
    }
  }
  if (bits < 64 && u >= (uint64_t{1} << bits)) return BadFill(fill, dtype, "out of range");
  switch (dtype.size) {
    case 1:
      return ElementBytes(static_cast<uint8_t>(u));
    case 2:
      return ElementBytes(static_cast<uint16_t>(u));
    case 4:
      return ElementBytes(static_cast<uint32_t>(u));
    default:
      return ElementBytes(u);
  }
}

Result<std::vector<int64_t>> IntList(const nlohmann::json& json, const char* name) {
  if (!json.is_array()) {
    return Status::InvalidArgument(std::string("\"") + name + "\" must be a list of integers");
  }
  std::vector<int64_t> out;
  for (const auto& v : json) {
    if (!v.is_number_integer()) {
      return Status::InvalidArgument(std::string("\"") + name + "\" must be a list of integers");
    }
    out.push_back(v.get<int64_t>());
  }
  return out;
}

}  // namespace

std::string ChunkKeyEncoding::Key(std::span<const int64_t> grid_coords) const {
  std::string key = prefix;
  if (grid_coords.empty()) return key.empty() ? "0" : key;
  for (size_t i = 0; i < grid_coords.size(); ++i) {
    if (!key.empty()) key += separator;
    key += std::to_string(grid_coords[i]);
  }
  return key;
}

std::optional<std::vector<int64_t>> ParseChunkKey(const ChunkKeyEncoding& keys,
                                                  std::string_view key, int rank) {
  if (rank == 0) {
    if (key == (keys.prefix.empty() ? std::string_view("0") : std::string_view(keys.prefix))) {
      return std::vector<int64_t>();
    }
    return std::nullopt;
  }
  if (!keys.prefix.empty()) {
    if (!key.starts_with(keys.prefix) || key.size() == keys.prefix.size() ||
        key[keys.prefix.size()] != keys.separator) {
      return std::nullopt;
    }
    key.remove_prefix(keys.prefix.size() + 1);
  }
  std::vector<int64_t> coords;
  for (int d = 0; d < rank; ++d) {
    const size_t end = d + 1 < rank ? key.find(keys.separator) : key.size();
    if (end == std::string_view::npos || end == 0 || end > 19) return std::nullopt;
    int64_t value = 0;
    for (char c : key.substr(0, end)) {
      if (c < '0' || c > '9') return std::nullopt;
      if (__builtin_mul_overflow(value, 10, &value) ||
          __builtin_add_overflow(value, c - '0', &value)) {
        return std::nullopt;
      }
    }
    coords.push_back(value);
    key.remove_prefix(d + 1 < rank ? end + 1 : end);
  }
  if (!key.empty()) return std::nullopt;
  return coords;
}

int64_t ShardLayout::InnerChunks() const {
  int64_t n = 1;
  for (int64_t c : chunks_per_shard) n *= c;
  return n;
}

std::vector<int64_t> ArrayMetadata::GridShape() const {
  std::vector<int64_t> grid(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    // Not (shape + chunk - 1) / chunk: that overflows for a shape near 2^63.
    grid[d] = shape[d] / chunk_shape[d] + (shape[d] % chunk_shape[d] != 0 ? 1 : 0);
  }
  return grid;
}

int64_t ArrayMetadata::ChunkElements() const {
  int64_t n = 1;
  for (int64_t c : chunk_shape) n *= c;
  return n;
}

Result<std::array<uint8_t, 8>> ArrayMetadata::FillElement() const {
  if (fill_value.is_null()) return std::array<uint8_t, 8>{};
  if (dtype.kind == DataType::Kind::kFloat) return FloatFill(fill_value, dtype);
  return IntegerFill(fill_value, dtype);
}

Status ArrayMetadata::Validate() const {
  if (chunk_shape.size() != shape.size()) {
    return Status::InvalidArgument("the chunk shape has " + std::to_string(chunk_shape.size()) +
                                   " dimensions but the array has " + std::to_string(shape.size()));
  }
  int64_t elements = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) return Status::InvalidArgument("the shape has a negative dimension");
    if (chunk_shape[d] < 1) {
      return Status::InvalidArgument("chunk dimension " + std::to_string(d) + " is " +
                                     std::to_string(chunk_shape[d]) + "; it must be at least 1");
    }
    if (chunk_shape[d] > kMaxChunkBytes || elements > kMaxChunkBytes / chunk_shape[d]) {
      elements = kMaxChunkBytes + 1;
      break;
    }
    elements *= chunk_shape[d];
  }
  if (elements * dtype.size > kMaxChunkBytes) {
    return Status::InvalidArgument("one chunk would take more than 2 GiB decoded");
  }
  // Chunks are numbered with int64 (ChunkRegion, the chunk cursor): the grid must fit.
  int64_t chunks = 1;
  for (int64_t along : GridShape()) {
    if (__builtin_mul_overflow(chunks, along, &chunks)) {
      return Status::InvalidArgument("the array has more than 2^63 - 1 chunks");
    }
  }
  if (shards) {
    if (shards->chunks_per_shard.size() != shape.size()) {
      return Status::InvalidArgument(
          "the shard layout has " + std::to_string(shards->chunks_per_shard.size()) +
          " dimensions but the array has " + std::to_string(shape.size()));
    }
    int64_t inner = 1;
    for (int64_t along : shards->chunks_per_shard) {
      if (along < 1 || along > kMaxInnerChunksPerShard || inner > kMaxInnerChunksPerShard / along) {
        return Status::InvalidArgument(
            "a shard must hold from 1 to " + std::to_string(kMaxInnerChunksPerShard) +
            " inner chunks; this one holds " + nlohmann::json(shards->chunks_per_shard).dump() +
            " along its dimensions");
      }
      inner *= along;
    }
  }
  Result<std::array<uint8_t, 8>> fill = FillElement();
  return fill.ok() ? Status::Ok() : fill.status();
}

nlohmann::json ArrayMetadata::ToJson() const {
  nlohmann::json json = {
      {"format", format},          {"shape", shape},
      {"chunks", chunk_shape},     {"dtype", dtype.ToNumpy()},
      {"fill_value", fill_value},  {"codec", codec},
      {"key_prefix", keys.prefix}, {"separator", std::string(1, keys.separator)}};
  // Only when there are any: the execution state of an array without filters stays what it was
  // before filters existed.
  if (filters.is_array() && !filters.empty()) json["filters"] = filters;
  if (outer_codecs.is_array() && !outer_codecs.empty()) json["outer_codecs"] = outer_codecs;
  if (shards) {
    json["shards"] = {{"chunks_per_shard", shards->chunks_per_shard},
                      {"index_location", shards->index_at_start ? "start" : "end"},
                      {"index_crc32c", shards->index_crc32c}};
  }
  return json;
}

Result<ArrayMetadata> ArrayMetadata::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return Status::InvalidArgument("array metadata must be an object");
  ArrayMetadata m;
  try {
    m.format = json.at("format").get<std::string>();
    ASSIGN_OR_RETURN(m.shape, IntList(json.at("shape"), "shape"));
    ASSIGN_OR_RETURN(m.chunk_shape, IntList(json.at("chunks"), "chunks"));
    ASSIGN_OR_RETURN(m.dtype, DataType::FromNumpy(json.at("dtype").get<std::string>()));
    m.fill_value = json.at("fill_value");
    m.codec = json.at("codec");
    m.filters = json.value("filters", nlohmann::json::array());
    if (!m.filters.is_array()) return Status::InvalidArgument("\"filters\" must be a list");
    m.outer_codecs = json.value("outer_codecs", nlohmann::json::array());
    if (!m.outer_codecs.is_array()) {
      return Status::InvalidArgument("\"outer_codecs\" must be a list");
    }
    m.keys.prefix = json.at("key_prefix").get<std::string>();
    const std::string separator = json.at("separator").get<std::string>();
    if (separator.size() != 1) return Status::InvalidArgument("separator must be one character");
    m.keys.separator = separator[0];
    if (auto it = json.find("shards"); it != json.end()) {
      ShardLayout layout;
      ASSIGN_OR_RETURN(layout.chunks_per_shard,
                       IntList(it->at("chunks_per_shard"), "chunks_per_shard"));
      const std::string location = it->at("index_location").get<std::string>();
      if (location != "start" && location != "end") {
        return Status::InvalidArgument("\"index_location\" must be \"start\" or \"end\"");
      }
      layout.index_at_start = location == "start";
      layout.index_crc32c = it->at("index_crc32c").get<bool>();
      m.shards = std::move(layout);
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("array metadata: ") + e.what());
  }
  RETURN_IF_ERROR(m.Validate());
  return m;
}

}  // namespace batchd::pipeline
