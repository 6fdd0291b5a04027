#include <exception>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/codecs/codec_config.h"

namespace batchd::pipeline {

void CodecRegistry::Register(std::string id, Factory factory) {
  factories_.Register(std::move(id), std::move(factory));
}

Result<std::unique_ptr<const Codec>> CodecRegistry::Create(const nlohmann::json& config,
                                                           const CodecContext& context) const {
  ASSIGN_OR_RETURN(auto found, FindConfiguredFactory(factories_, config, "codec"));
  const std::string& id = found.id;
  const Factory* factory = found.factory;
  if (context.element_size == 0) {
    return Status::InvalidArgument(id + ": element size must be at least 1 byte");
  }
  // Factories report through Result; this only keeps a stray library exception (an allocation
  // failure, say) inside pipeline/.
  try {
    return (*factory)(config, context);
  } catch (const std::exception& e) {
    return Status::Internal(id + ": creating the codec failed: " + e.what());
  }
}

void RegisterBuiltinCodecs(CodecRegistry& registry) {
  registry.Register("raw", CreateRawCodec);
  registry.Register("lz4", CreateLz4Codec);
  registry.Register("zstd", CreateZstdCodec);
  registry.Register("blosc", CreateBloscCodec);
  registry.Register("zlib", CreateZlibCodec);
  registry.Register("gzip", CreateGzipCodec);
  registry.Register("bz2", CreateBz2Codec);
  registry.Register("crc32c", CreateCrc32cCodec);
  RegisterBuiltinFilters(registry.filters());
}

}  // namespace batchd::pipeline
