// "blosc": c-blosc 1.x buffers, zarr v2's default compressor, through the library's
// context-per-call API (blosc_compress_ctx / blosc_decompress_ctx), which touches no global
// state and so is safe from any thread. One internal thread: the decode pool already runs one
// chunk per core. docs/pipeline.md ("Codecs") describes the header.
#include <blosc.h>

#include <string>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {
namespace {

// numcodecs' shuffle values (0 is no shuffle).
constexpr int kAutoShuffle = -1;
constexpr int kByteShuffle = 1;
constexpr int kBitShuffle = 2;

// The fixed header: version, versionlz, flags, typesize, then nbytes, blocksize and cbytes as
// little-endian int32 at offsets 4, 8 and 12. Unless the buffer is a plain copy (the
// BLOSC_MEMCPYED flag), an int32 offset per block follows it.
constexpr size_t kHeaderSize = BLOSC_MIN_HEADER_LENGTH;

uint32_t LoadLittleEndian32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Checks, before libblosc reads the buffer, that the sizes in the header agree with the input
// and the expected output, and that the input is long enough for the copy or the block offset
// table the header announces. blosc_decompress_ctx takes no input length, so this is what keeps
// a truncated or lying buffer from being read past its end.
Status ValidateHeader(ByteView in, size_t expected_bytes) {
  if (in.size() < kHeaderSize) {
    return Status::Corrupt("blosc: input is " + std::to_string(in.size()) +
                           " bytes, shorter than the 16-byte header");
  }
  size_t nbytes = 0, cbytes = 0, blocksize = 0;
  blosc_cbuffer_sizes(in.data(), &nbytes, &cbytes, &blocksize);
  if (in[0] > BLOSC_VERSION_FORMAT) {
    return Status::Corrupt("blosc: header format version " + std::to_string(in[0]) +
                           " is newer than libblosc " + blosc_get_version_string() + " reads");
  }
  if (cbytes != in.size()) {
    return Status::Corrupt("blosc: header says " + std::to_string(cbytes) +
                           " compressed bytes, the input has " + std::to_string(in.size()));
  }
  if (nbytes != expected_bytes) {
    return Status::Corrupt("blosc: header says " + std::to_string(nbytes) +
                           " bytes, the chunk needs " + std::to_string(expected_bytes));
  }
  size_t checked_nbytes = 0;
  if (blosc_cbuffer_validate(in.data(), in.size(), &checked_nbytes) != 0) {
    return Status::Corrupt("blosc: header is invalid");
  }
  size_t typesize = 0;
  int flags = 0;
  blosc_cbuffer_metainfo(in.data(), &typesize, &flags);
  if (typesize == 0) return Status::Corrupt("blosc: header has an element size of 0");
  if (flags & BLOSC_MEMCPYED) {
    if (cbytes - kHeaderSize != nbytes) {
      return Status::Corrupt("blosc: header says the " + std::to_string(nbytes) +
                             " bytes are stored uncompressed, but " +
                             std::to_string(cbytes - kHeaderSize) + " follow the header");
    }
    return Status::Ok();
  }
  if (nbytes == 0) return Status::Ok();
  // libblosc never writes a block larger than the data, and allocates scratch space of the
  // block size before decoding: a lying header must not make it allocate gigabytes.
  if (blocksize == 0 || blocksize > nbytes) {
    return Status::Corrupt("blosc: header has a block size of " + std::to_string(blocksize) +
                           " for " + std::to_string(nbytes) + " bytes");
  }
  const size_t blocks = nbytes / blocksize + (nbytes % blocksize != 0);
  if (blocks > (cbytes - kHeaderSize) / 4) {
    return Status::Corrupt("blosc: header announces " + std::to_string(blocks) +
                           " blocks, more than " + std::to_string(cbytes) + " bytes can hold");
  }
  for (size_t block = 0; block < blocks; ++block) {
    const uint32_t start = LoadLittleEndian32(in.data() + kHeaderSize + 4 * block);
    if (start < kHeaderSize + 4 * blocks || start >= cbytes) {
      return Status::Corrupt("blosc: block " + std::to_string(block) + " starts at byte " +
                             std::to_string(start) + ", outside the " + std::to_string(cbytes) +
                             "-byte buffer");
    }
  }
  return Status::Ok();
}

class BloscCodec final : public Codec {
 public:
  BloscCodec(std::string cname, int clevel, int shuffle, size_t blocksize, size_t element_size)
      : cname_(std::move(cname)),
        clevel_(clevel),
        shuffle_(shuffle),
        blocksize_(blocksize),
        element_size_(element_size) {}

  nlohmann::json ToJson() const override {
    return {{"id", "blosc"},
            {"cname", cname_},
            {"clevel", clevel_},
            {"shuffle", shuffle_},
            {"blocksize", blocksize_}};
  }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    RETURN_IF_ERROR(ValidateHeader(in, out.size()));
    uint8_t no_output;
    const int produced = blosc_decompress_ctx(in.data(), out.empty() ? &no_output : out.data(),
                                              out.size(), /*numinternalthreads=*/1);
    if (produced < 0) {
      const char* library = blosc_cbuffer_complib(in.data());
      return Status::Corrupt("blosc: the " + std::string(library ? library : "unknown") +
                             " data is damaged (libblosc error " + std::to_string(produced) + ")");
    }
    if (static_cast<size_t>(produced) != out.size()) {
      return Status::Corrupt("blosc: decodes to " + std::to_string(produced) +
                             " bytes, the chunk needs " + std::to_string(out.size()));
    }
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    if (in.size() > BLOSC_MAX_BUFFERSIZE) {
      return Status::InvalidArgument("blosc: a chunk of " + std::to_string(in.size()) +
                                     " bytes is larger than blosc's limit of " +
                                     std::to_string(BLOSC_MAX_BUFFERSIZE));
    }
    out.resize(in.size() + BLOSC_MAX_OVERHEAD);
    const uint8_t no_input = 0;
    const int written = blosc_compress_ctx(
        clevel_, EffectiveShuffle(), element_size_, in.size(), in.empty() ? &no_input : in.data(),
        out.data(), out.size(), cname_.c_str(), blocksize_, /*numinternalthreads=*/1);
    if (written <= 0) {
      return Status::Internal("blosc: blosc_compress_ctx failed with " + std::to_string(written));
    }
    out.resize(static_cast<size_t>(written));
    return Status::Ok();
  }

 private:
  // numcodecs' AUTOSHUFFLE: bit shuffle for single-byte elements (byte shuffle would do
  // nothing), byte shuffle otherwise.
  int EffectiveShuffle() const {
    if (shuffle_ != kAutoShuffle) return shuffle_;
    return element_size_ == 1 ? kBitShuffle : kByteShuffle;
  }

  const std::string cname_;
  const int clevel_;
  const int shuffle_;  // as configured; -1 stays -1 so ToJson round-trips
  const size_t blocksize_;
  const size_t element_size_;
};

}  // namespace

Result<std::unique_ptr<const Codec>> CreateBloscCodec(const nlohmann::json& config,
                                                      const CodecContext& context) {
  CodecConfigReader reader("blosc", config);
  ASSIGN_OR_RETURN(std::string cname, reader.String("cname", "lz4"));
  if (blosc_compname_to_compcode(cname.c_str()) < 0) {
    return reader.Invalid("cname", "\"" + cname + "\" is not a compressor libblosc " +
                                       blosc_get_version_string() + " has (it has " +
                                       blosc_list_compressors() + ")");
  }
  ASSIGN_OR_RETURN(int64_t clevel, reader.Integer("clevel", 5, 0, 9));
  ASSIGN_OR_RETURN(int64_t shuffle,
                   reader.Integer("shuffle", kByteShuffle, kAutoShuffle, kBitShuffle));
  ASSIGN_OR_RETURN(int64_t blocksize, reader.Integer("blocksize", 0, 0, BLOSC_MAX_BLOCKSIZE));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(std::make_unique<BloscCodec>(
      std::move(cname), static_cast<int>(clevel), static_cast<int>(shuffle),
      static_cast<size_t>(blocksize), context.element_size));
}

}  // namespace batchd::pipeline
