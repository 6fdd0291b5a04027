// "bz2", numcodecs' bzip2: one or more bzip2 streams back to back, as Python's bz2.compress
// writes and bz2.decompress reads, over Debian's libbz2. docs/pipeline.md ("Codecs").
//
// Decoding streams straight into the caller's span with one spare byte behind it, like
// deflate_codec.cpp: a stream that would write past the chunk fails there, so no input makes
// decoding write or allocate beyond the decoded size. Bytes after the last stream are corrupt.
#include <bzlib.h>

#include <algorithm>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {
namespace {

// libbz2 counts in unsigned int: larger spans are handed over one window at a time.
constexpr size_t kWindow = size_t{1} << 30;

Status Corrupt(const std::string& what) { return Status::Corrupt("bz2: " + what); }

class Bz2Codec final : public Codec {
 public:
  explicit Bz2Codec(int level) : level_(level) {}

  nlohmann::json ToJson() const override { return {{"id", "bz2"}, {"level", level_}}; }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    if (in.empty()) return Corrupt("input is empty, there is no stream");
    size_t in_pos = 0;
    size_t out_pos = 0;
    uint8_t spare = 0;
    for (int stream_number = 1;; ++stream_number) {
      bz_stream stream{};
      if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) {
        return Status::Internal("bz2: cannot allocate a decompression state");
      }
      int rc = BZ_OK;
      for (;;) {
        const size_t in_now = std::min(in.size() - in_pos, kWindow);
        const size_t out_now = std::min(out.size() - out_pos, kWindow);
        stream.next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data() + in_pos));
        stream.avail_in = static_cast<unsigned>(in_now);
        // Once the span is full, the spare byte catches a stream that goes on.
        stream.next_out = reinterpret_cast<char*>(out_now > 0 ? out.data() + out_pos : &spare);
        stream.avail_out = out_now > 0 ? static_cast<unsigned>(out_now) : 1;
        const unsigned offered_out = stream.avail_out;
        rc = BZ2_bzDecompress(&stream);
        in_pos += in_now - stream.avail_in;
        const size_t produced = offered_out - stream.avail_out;
        if (out_now == 0 && produced > 0) {
          BZ2_bzDecompressEnd(&stream);
          return Corrupt("decodes to more than the " + std::to_string(out.size()) +
                         " bytes the chunk needs");
        }
        out_pos += produced;
        if (rc != BZ_OK) break;
        if (in_pos == in.size() && produced == 0) {
          BZ2_bzDecompressEnd(&stream);
          return Corrupt("stream " + std::to_string(stream_number) + " is truncated");
        }
      }
      BZ2_bzDecompressEnd(&stream);
      if (rc == BZ_DATA_ERROR_MAGIC) {
        return Corrupt("stream " + std::to_string(stream_number) +
                       " is not a bzip2 stream (bad magic)");
      }
      if (rc == BZ_DATA_ERROR) {
        return Corrupt("stream " + std::to_string(stream_number) +
                       " is malformed (bad block or checksum)");
      }
      if (rc == BZ_MEM_ERROR) return Status::Internal("bz2: out of memory while decoding");
      if (rc != BZ_STREAM_END) {
        return Corrupt("stream " + std::to_string(stream_number) + ": libbz2 error " +
                       std::to_string(rc));
      }
      if (in_pos == in.size()) break;
    }
    if (out_pos != out.size()) {
      return Corrupt("decodes to " + std::to_string(out_pos) + " bytes, the chunk needs " +
                     std::to_string(out.size()));
    }
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    bz_stream stream{};
    // workFactor 0 is libbz2's default (30), what Python's bz2 module passes.
    if (BZ2_bzCompressInit(&stream, level_, 0, 0) != BZ_OK) {
      return Status::Internal("bz2: cannot allocate a compression state");
    }
    // libbz2's documented bound for one-shot output: 1% larger plus 600 bytes.
    out.resize(in.size() + in.size() / 100 + 600);
    size_t in_pos = 0;
    size_t out_pos = 0;
    int rc = BZ_RUN_OK;
    char no_input = 0;
    for (;;) {
      const size_t in_now = std::min(in.size() - in_pos, kWindow);
      const size_t out_now = std::min(out.size() - out_pos, kWindow);
      stream.next_in = in.empty()
                           ? &no_input
                           : const_cast<char*>(reinterpret_cast<const char*>(in.data() + in_pos));
      stream.avail_in = static_cast<unsigned>(in_now);
      stream.next_out = reinterpret_cast<char*>(out.data() + out_pos);
      stream.avail_out = static_cast<unsigned>(out_now);
      const bool last = in_pos + in_now == in.size();
      rc = BZ2_bzCompress(&stream, last ? BZ_FINISH : BZ_RUN);
      in_pos += in_now - stream.avail_in;
      out_pos += out_now - stream.avail_out;
      if (rc == BZ_STREAM_END) break;
      if (rc != BZ_RUN_OK && rc != BZ_FINISH_OK) break;
      if (out_pos == out.size()) break;  // the bound was too small
    }
    BZ2_bzCompressEnd(&stream);
    if (rc != BZ_STREAM_END) {
      return Status::Internal("bz2: compression failed (libbz2 error " + std::to_string(rc) + ")");
    }
    out.resize(out_pos);
    return Status::Ok();
  }

 private:
  const int level_;
};

}  // namespace

Result<std::unique_ptr<const Codec>> CreateBz2Codec(const nlohmann::json& config,
                                                    const CodecContext&) {
  CodecConfigReader reader("bz2", config);
  // numcodecs' default; the level is bzip2's block size in units of 100 kB.
  ASSIGN_OR_RETURN(int64_t level, reader.Integer("level", 1, 1, 9));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(std::make_unique<Bz2Codec>(static_cast<int>(level)));
}

}  // namespace batchd::pipeline
