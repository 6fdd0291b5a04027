// "zstd": standard Zstandard frames (RFC 8878), as numcodecs writes them. Also the reference
// implementation of a codec (codec.h): config read through CodecConfigReader, exact-size decode
// into the caller's span, per-thread library state, errors that say what was wrong.
//
// Decoding is one-shot (ZSTD_decompressDCtx) straight into the caller's span rather than
// streaming: the decoded size is known, so the frame's window never needs a buffer of its own.
// One-shot decoding accepts everything streaming does here: frames without a content size
// (zstd's streaming encoders omit it), several concatenated frames, and skippable frames.
#include <zstd.h>
#include <zstd_errors.h>

#include <memory>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {
namespace {

struct CompressionContextDeleter {
  void operator()(ZSTD_CCtx* context) const { ZSTD_freeCCtx(context); }
};
struct DecompressionContextDeleter {
  void operator()(ZSTD_DCtx* context) const { ZSTD_freeDCtx(context); }
};

// A context holds hundreds of kilobytes of tables; creating one per chunk would cost more than
// decoding a small chunk. Each thread keeps its own (contexts are not thread-safe), freed when
// the thread exits. nullptr only if the allocation failed.
ZSTD_CCtx* ThisThreadCompressionContext() {
  thread_local std::unique_ptr<ZSTD_CCtx, CompressionContextDeleter> context(ZSTD_createCCtx());
  return context.get();
}
ZSTD_DCtx* ThisThreadDecompressionContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, DecompressionContextDeleter> context(ZSTD_createDCtx());
  return context.get();
}

uint32_t LoadLittleEndian32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

struct FrameSummary {
  uint64_t declared_bytes = 0;      // sum of the content sizes the frames declare
  bool every_size_declared = true;  // false if a data frame omits its content size
};

// Walks the frames of `in` without decoding them, so that a truncated frame, trailing bytes or
// a size mismatch get a precise message before any output is written. Costs one header read
// per frame and per block (a few per megabyte).
Result<FrameSummary> SummarizeFrames(ByteView in) {
  if (in.empty()) return Status::Corrupt("zstd: input is empty, there is no frame");
  FrameSummary summary;
  size_t offset = 0;
  for (int frame = 1; offset < in.size(); ++frame) {
    const ByteView rest = in.subspan(offset);
    // Built only on the error paths: the success path allocates nothing.
    auto frame_error = [&](const std::string& what) {
      return Status::Corrupt("zstd: frame " + std::to_string(frame) + " (at byte " +
                             std::to_string(offset) + ") " + what);
    };
    if (rest.size() < 4) return frame_error("is truncated");
    const uint32_t magic = LoadLittleEndian32(rest.data());
    const bool skippable = (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
    if (!skippable && magic != ZSTD_MAGICNUMBER) {
      return frame_error("is not a zstd frame (bad magic number)");
    }
    const size_t frame_size = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
    if (ZSTD_isError(frame_size)) {
      if (ZSTD_getErrorCode(frame_size) == ZSTD_error_srcSize_wrong) {
        return frame_error("is truncated");
      }
      return frame_error(std::string("is malformed: ") + ZSTD_getErrorName(frame_size));
    }
    if (!skippable) {
      const unsigned long long content = ZSTD_getFrameContentSize(rest.data(), rest.size());
      if (content == ZSTD_CONTENTSIZE_ERROR) {
        return frame_error("has a malformed header");
      }
      if (content == ZSTD_CONTENTSIZE_UNKNOWN) {
        summary.every_size_declared = false;
      } else if (content > UINT64_MAX - summary.declared_bytes) {
        return Status::Corrupt("zstd: the frames declare more than 2^64 bytes");
      } else {
        summary.declared_bytes += content;
      }
    }
    offset += frame_size;
  }
  return summary;
}

class ZstdCodec final : public Codec {
 public:
  ZstdCodec(int level, bool checksum) : level_(level), checksum_(checksum) {}

  nlohmann::json ToJson() const override {
    return {{"id", "zstd"}, {"level", level_}, {"checksum", checksum_}};
  }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    ASSIGN_OR_RETURN(const FrameSummary summary, SummarizeFrames(in));
    if (summary.every_size_declared && summary.declared_bytes != out.size()) {
      return Status::Corrupt("zstd: frames hold " + std::to_string(summary.declared_bytes) +
                             " bytes, the chunk needs " + std::to_string(out.size()));
    }
    ZSTD_DCtx* context = ThisThreadDecompressionContext();
    if (context == nullptr) return Status::Internal("zstd: cannot allocate a context");
    uint8_t no_output;
    const size_t produced = ZSTD_decompressDCtx(context, out.empty() ? &no_output : out.data(),
                                                out.size(), in.data(), in.size());
    if (ZSTD_isError(produced)) {
      if (ZSTD_getErrorCode(produced) == ZSTD_error_dstSize_tooSmall) {
        return Status::Corrupt("zstd: decodes to more than the " + std::to_string(out.size()) +
                               " bytes the chunk needs");
      }
      return Status::Corrupt(std::string("zstd: ") + ZSTD_getErrorName(produced));
    }
    if (produced != out.size()) {
      return Status::Corrupt("zstd: decodes to " + std::to_string(produced) +
                             " bytes, the chunk needs " + std::to_string(out.size()));
    }
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    ZSTD_CCtx* context = ThisThreadCompressionContext();
    if (context == nullptr) return Status::Internal("zstd: cannot allocate a context");
    // The context is shared by every zstd codec on this thread: set every parameter each time.
    ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters);
    size_t status = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level_);
    if (!ZSTD_isError(status)) {
      status = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum_ ? 1 : 0);
    }
    if (ZSTD_isError(status)) {
      return Status::Internal(std::string("zstd: bad parameter: ") + ZSTD_getErrorName(status));
    }
    out.resize(ZSTD_compressBound(in.size()));
    const uint8_t no_input = 0;
    const size_t written = ZSTD_compress2(context, out.data(), out.size(),
                                          in.empty() ? &no_input : in.data(), in.size());
    if (ZSTD_isError(written)) {
      return Status::Internal(std::string("zstd: compression failed: ") +
                              ZSTD_getErrorName(written));
    }
    out.resize(written);
    return Status::Ok();
  }

 private:
  const int level_;
  const bool checksum_;
};

}  // namespace

Result<std::unique_ptr<const Codec>> CreateZstdCodec(const nlohmann::json& config,
                                                     const CodecContext& context) {
  CodecConfigReader reader("zstd", config);
  // numcodecs' default level. 0 means zstd's own default (3); negative levels are faster.
  ASSIGN_OR_RETURN(int64_t level, reader.Integer("level", 1, ZSTD_minCLevel(), ZSTD_maxCLevel()));
  // Newer numcodecs (and zarr v3's zstd codec) write a content checksum when asked; decoding
  // verifies one whenever a frame carries it.
  ASSIGN_OR_RETURN(bool checksum, reader.Boolean("checksum", false));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(
      std::make_unique<ZstdCodec>(static_cast<int>(level), checksum));
}

}  // namespace batchd::pipeline
