// "raw": the chunk is stored as its decoded bytes.
#include <cstring>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {
namespace {

class RawCodec final : public Codec {
 public:
  nlohmann::json ToJson() const override { return {{"id", "raw"}}; }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    // Not the stored value's own size: a raw read takes any bytes, so an exact figure would tell
    // a client the length of whatever a URL answers (issue 10, item 5).
    if (in.size() != out.size()) {
      return Status::Corrupt(std::string("raw: the stored value is ") +
                             (in.size() < out.size() ? "shorter" : "longer") + " than the " +
                             std::to_string(out.size()) + " bytes the chunk needs");
    }
    if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    out.assign(in.begin(), in.end());
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<const Codec>> CreateRawCodec(const nlohmann::json& config,
                                                    const CodecContext& context) {
  CodecConfigReader reader("raw", config);
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Codec>(std::make_unique<RawCodec>());
}

}  // namespace batchd::pipeline
