// "lz4", numcodecs' framing: the decoded size as a 4-byte little-endian uint32, then one LZ4
// block (not the LZ4 frame format). docs/pipeline.md ("Codecs") has the details.
#include <lz4.h>

#include <climits>
#include <cstring>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {
namespace {

constexpr size_t kHeaderSize = 4;

uint32_t LoadLittleEndian32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void StoreLittleEndian32(uint8_t* p, uint32_t value) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(value >> (8 * i));
}

class Lz4Codec final : public Codec {
 public:
  explicit Lz4Codec(int acceleration) : acceleration_(acceleration) {}

  nlohmann::json ToJson() const override {
    return {{"id", "lz4"}, {"acceleration", acceleration_}};
  }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    if (in.size() < kHeaderSize) {
      return Status::Corrupt("lz4: input is " + std::to_string(in.size()) +
                             " bytes, too short for the 4-byte size header");
    }
    const uint32_t declared = LoadLittleEndian32(in.data());
    if (declared != out.size()) {
      return Status::Corrupt("lz4: header says " + std::to_string(declared) +
                             " bytes, the chunk needs " + std::to_string(out.size()));
    }
    const ByteView block = in.subspan(kHeaderSize);
    // LZ4 counts in int; a block or a result beyond INT_MAX cannot be a valid encoding.
    if (block.size() > INT_MAX || out.size() > INT_MAX) {
      return Status::Corrupt("lz4: " + std::to_string(out.size()) +
                             " bytes is more than one LZ4 block holds");
    }
    // liblz4 wants real pointers even for zero-length spans.
    char no_output;
    char* target = out.empty() ? &no_output : reinterpret_cast<char*>(out.data());
    const int produced =
        LZ4_decompress_safe(reinterpret_cast<const char*>(block.data()), target,
                            static_cast<int>(block.size()), static_cast<int>(out.size()));
    if (produced < 0) {
      return Status::Corrupt("lz4: block is malformed or truncated (" +
                             std::to_string(block.size()) + " bytes after the header)");
    }
    if (static_cast<size_t>(produced) != out.size()) {
      return Status::Corrupt("lz4: block decodes to " + std::to_string(produced) +
                             " bytes, the header says " + std::to_string(out.size()));
    }
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    if (in.size() > LZ4_MAX_INPUT_SIZE) {
      return Status::InvalidArgument("lz4: a chunk of " + std::to_string(in.size()) +
                                     " bytes is larger than one LZ4 block holds (" +
                                     std::to_string(LZ4_MAX_INPUT_SIZE) + ")");
    }
    const int size = static_cast<int>(in.size());
    const int bound = LZ4_compressBound(size);
    out.resize(kHeaderSize + static_cast<size_t>(bound));
    StoreLittleEndian32(out.data(), static_cast<uint32_t>(size));
    const char no_input = 0;
    const char* source = in.empty() ? &no_input : reinterpret_cast<const char*>(in.data());
    const int written = LZ4_compress_fast(source, reinterpret_cast<char*>(out.data() + kHeaderSize),
                                          size, bound, acceleration_);
    if (written <= 0) {
      return Status::Internal("lz4: LZ4_compress_fast failed on " + std::to_string(size) +
                              " bytes");
    }
    out.resize(kHeaderSize + static_cast<size_t>(written));
    return Status::Ok();
  }

 private:
  const int acceleration_;
};

}  // namespace

Result<std::unique_ptr<const Codec>> CreateLz4Codec(const nlohmann::json& config,
                                                    const CodecContext& context) {
  CodecConfigReader reader("lz4", config);
  // numcodecs passes any int through; liblz4 treats values below 1 as 1 and clamps large ones,
  // so every integer is accepted for compatibility with existing metadata.
  ASSIGN_OR_RETURN(int64_t acceleration, reader.Integer("acceleration", 1, INT_MIN, INT_MAX));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(std::make_unique<Lz4Codec>(static_cast<int>(acceleration)));
}

}  // namespace batchd::pipeline
