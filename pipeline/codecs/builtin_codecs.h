// Factories of the built-in codecs, one file each, registered by RegisterBuiltinCodecs
// (codec_registry.cpp). Each reads its config with CodecConfigReader and fails with
// kInvalidArgument naming the offending member; `config` is known to be an object whose "id"
// is the codec's own.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/codecs/codec.h"

namespace batchd::pipeline {

Result<std::unique_ptr<const Codec>> CreateRawCodec(const nlohmann::json& config,
                                                    const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateLz4Codec(const nlohmann::json& config,
                                                    const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateZstdCodec(const nlohmann::json& config,
                                                     const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateBloscCodec(const nlohmann::json& config,
                                                      const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateZlibCodec(const nlohmann::json& config,
                                                     const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateGzipCodec(const nlohmann::json& config,
                                                     const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateBz2Codec(const nlohmann::json& config,
                                                    const CodecContext& context);
Result<std::unique_ptr<const Codec>> CreateCrc32cCodec(const nlohmann::json& config,
                                                       const CodecContext& context);

}  // namespace batchd::pipeline
