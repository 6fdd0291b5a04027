// "zlib" and "gzip", numcodecs' spellings of DEFLATE (RFC 1951) inside a zlib stream (RFC 1950)
// or a gzip member (RFC 1952), over Debian's zlib. docs/pipeline.md ("Codecs") has the details.
//
// Decoding is streaming inflate straight into the caller's span, with one spare byte behind it:
// a stream that would write that byte decodes to more than the chunk holds and fails there, so
// no input can make decoding write or allocate beyond the decoded size it was given. gzip
// accepts several members back to back (what Python's gzip module, numcodecs' decoder, reads);
// zlib accepts exactly one stream. Bytes after the last stream or member are corrupt.
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {
namespace {

// zlib counts in uInt (32 bits): larger spans are handed over one window at a time.
constexpr size_t kWindow = size_t{1} << 30;

enum class Wrapper { kZlib, kGzip };

// windowBits: 15 is a zlib header and trailer, 15 + 16 a gzip one (zlib's inflateInit2 docs).
int WindowBits(Wrapper wrapper) { return wrapper == Wrapper::kZlib ? 15 : 15 + 16; }

class DeflateCodec final : public Codec {
 public:
  DeflateCodec(Wrapper wrapper, int level) : wrapper_(wrapper), level_(level) {}

  nlohmann::json ToJson() const override { return {{"id", Id()}, {"level", level_}}; }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    if (in.empty()) return Corrupt("input is empty, there is no stream");
    z_stream stream{};
    if (inflateInit2(&stream, WindowBits(wrapper_)) != Z_OK) {
      return Status::Internal(Id() + ": cannot allocate an inflate state");
    }
    Status status = Inflate(stream, in, out);
    inflateEnd(&stream);
    return status;
  }

  Status Encode(ByteView in, Bytes& out) const override {
    z_stream stream{};
    if (deflateInit2(&stream, level_, Z_DEFLATED, WindowBits(wrapper_), 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      return Status::Internal(Id() + ": cannot allocate a deflate state");
    }
    out.resize(deflateBound(&stream, in.size()));
    size_t in_pos = 0;
    size_t out_pos = 0;
    int rc = Z_OK;
    const uint8_t no_input = 0;
    while (rc == Z_OK) {
      const size_t in_now = std::min(in.size() - in_pos, kWindow);
      const size_t out_now = std::min(out.size() - out_pos, kWindow);
      stream.next_in = const_cast<Bytef*>(in.empty() ? &no_input : in.data() + in_pos);
      stream.avail_in = static_cast<uInt>(in_now);
      stream.next_out = out.data() + out_pos;
      stream.avail_out = static_cast<uInt>(out_now);
      const bool last = in_pos + in_now == in.size();
      rc = deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH);
      in_pos += in_now - stream.avail_in;
      out_pos += out_now - stream.avail_out;
      if (rc == Z_BUF_ERROR && out_pos == out.size()) break;  // the bound was too small
      if (rc == Z_BUF_ERROR) rc = Z_OK;                       // no progress this round: go on
    }
    deflateEnd(&stream);
    if (rc != Z_STREAM_END) {
      return Status::Internal(Id() + ": compression failed (zlib error " + std::to_string(rc) +
                              ")");
    }
    out.resize(out_pos);
    return Status::Ok();
  }

 private:
  std::string Id() const { return wrapper_ == Wrapper::kZlib ? "zlib" : "gzip"; }
  Status Corrupt(const std::string& what) const { return Status::Corrupt(Id() + ": " + what); }

  Status Inflate(z_stream& stream, ByteView in, MutableByteView out) const {
    size_t in_pos = 0;
    size_t out_pos = 0;
    uint8_t spare = 0;
    for (int member = 1;;) {
      const size_t in_now = std::min(in.size() - in_pos, kWindow);
      const size_t out_now = std::min(out.size() - out_pos, kWindow);
      stream.next_in = const_cast<Bytef*>(in.data() + in_pos);
      stream.avail_in = static_cast<uInt>(in_now);
      // Once the span is full, the spare byte catches a stream that goes on.
      stream.next_out = out_now > 0 ? out.data() + out_pos : &spare;
      stream.avail_out = out_now > 0 ? static_cast<uInt>(out_now) : 1;
      const uInt offered_out = stream.avail_out;
      const int rc = inflate(&stream, Z_NO_FLUSH);
      in_pos += in_now - stream.avail_in;
      const size_t produced = offered_out - stream.avail_out;
      if (out_now == 0 && produced > 0) {
        return Corrupt("decodes to more than the " + std::to_string(out.size()) +
                       " bytes the chunk needs");
      }
      out_pos += produced;
      if (rc == Z_STREAM_END) {
        if (in_pos == in.size()) break;
        if (wrapper_ == Wrapper::kZlib) {
          return Corrupt(std::to_string(in.size() - in_pos) +
                         " bytes follow the end of the stream");
        }
        ++member;
        inflateReset(&stream);  // the next gzip member
        continue;
      }
      if (rc == Z_NEED_DICT) return Corrupt("the stream needs a preset dictionary");
      if (rc == Z_DATA_ERROR) {
        return Corrupt(
            (wrapper_ == Wrapper::kGzip ? "member " + std::to_string(member) + " " : "") +
            "is malformed: " + (stream.msg != nullptr ? stream.msg : "data error"));
      }
      if (rc == Z_MEM_ERROR) return Status::Internal(Id() + ": out of memory while inflating");
      // Z_OK or Z_BUF_ERROR: output room was offered, so stopping short means the input ran out.
      if (in_pos == in.size() && produced == 0) {
        return Corrupt("is truncated (" + std::to_string(in.size()) + " bytes end mid-stream)");
      }
    }
    if (out_pos != out.size()) {
      return Corrupt("decodes to " + std::to_string(out_pos) + " bytes, the chunk needs " +
                     std::to_string(out.size()));
    }
    return Status::Ok();
  }

  const Wrapper wrapper_;
  const int level_;
};

Result<std::unique_ptr<const Codec>> CreateDeflateCodec(Wrapper wrapper, const char* id,
                                                        const nlohmann::json& config) {
  CodecConfigReader reader(id, config);
  // numcodecs' default level is 1; -1 is zlib's own default (6).
  ASSIGN_OR_RETURN(int64_t level, reader.Integer("level", 1, -1, 9));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(
      std::make_unique<DeflateCodec>(wrapper, static_cast<int>(level)));
}

}  // namespace

Result<std::unique_ptr<const Codec>> CreateZlibCodec(const nlohmann::json& config,
                                                     const CodecContext&) {
  return CreateDeflateCodec(Wrapper::kZlib, "zlib", config);
}

Result<std::unique_ptr<const Codec>> CreateGzipCodec(const nlohmann::json& config,
                                                     const CodecContext&) {
  return CreateDeflateCodec(Wrapper::kGzip, "gzip", config);
}

}  // namespace batchd::pipeline
