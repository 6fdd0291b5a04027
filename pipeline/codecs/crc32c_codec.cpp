// "crc32c": the zarr v3 checksum codec (https://zarr-specs.readthedocs.io/en/latest/v3/codecs/
// crc32c/index.html): the bytes, then their CRC-32C as 4 little-endian bytes. Decoding verifies
// the checksum and drops it, so a damaged chunk is a chunk error rather than wrong numbers. Its
// decoded size follows from its input (4 bytes fewer), which is what lets it sit after a
// compressor in a chain (ChunkCodecChain).
#include <cstdio>
#include <cstring>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"
#include "pipeline/ops/digest.h"

namespace batchd::pipeline {
namespace {

constexpr size_t kChecksumBytes = 4;

std::string Hex(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

class Crc32cCodec final : public Codec {
 public:
  nlohmann::json ToJson() const override { return {{"id", "crc32c"}}; }

  std::optional<size_t> DecodedSize(ByteView in) const override {
    if (in.size() < kChecksumBytes) return std::nullopt;
    return in.size() - kChecksumBytes;
  }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    if (in.size() < kChecksumBytes) {
      return Status::Corrupt("crc32c: " + std::to_string(in.size()) +
                             " bytes cannot hold the 4-byte checksum");
    }
    const size_t size = in.size() - kChecksumBytes;
    if (size != out.size()) {
      return Status::Corrupt("crc32c: holds " + std::to_string(size) + " bytes, " +
                             std::to_string(out.size()) + " were expected");
    }
    const uint8_t* tail = in.data() + size;
    const uint32_t stored = uint32_t{tail[0]} | uint32_t{tail[1]} << 8 | uint32_t{tail[2]} << 16 |
                            uint32_t{tail[3]} << 24;
    const uint32_t actual = Crc32c(in.first(size));
    if (stored != actual) {
      return Status::Corrupt("crc32c: the stored checksum " + Hex(stored) +
                             " does not match the data's " + Hex(actual) +
                             " (the chunk is damaged)");
    }
    if (size > 0) std::memcpy(out.data(), in.data(), size);
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    const uint32_t crc = Crc32c(in);
    out.assign(in.begin(), in.end());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(crc >> (8 * i)));
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<const Codec>> CreateCrc32cCodec(const nlohmann::json& config,
                                                       const CodecContext& context) {
  CodecConfigReader reader("crc32c", config);
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(std::make_unique<Crc32cCodec>());
}

}  // namespace batchd::pipeline
