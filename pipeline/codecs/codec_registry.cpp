#include <exception>

#include "pipeline/codecs/builtin_codecs.h"
#include "pipeline/codecs/codec.h"

namespace batchd::pipeline {

void CodecRegistry::Register(std::string id, Factory factory) {
  factories_.Register(std::move(id), std::move(factory));
}

Result<std::unique_ptr<const Codec>> CodecRegistry::Create(const nlohmann::json& config,
                                                           const CodecContext& context) const {
  if (!config.is_object()) {
    return Status::InvalidArgument(std::string("codec config must be a JSON object, got ") +
                                   config.type_name());
  }
  auto id_member = config.find("id");
  if (id_member == config.end()) {
    return Status::InvalidArgument("codec config has no \"id\"", "/id");
  }
  if (!id_member->is_string()) {
    return Status::InvalidArgument(
        std::string("codec \"id\" must be a string, got ") + id_member->type_name(), "/id");
  }
  const std::string& id = id_member->get_ref<const std::string&>();
  const Factory* factory = factories_.Find(id);
  if (factory == nullptr) {
    return Status::InvalidArgument(
        "unknown codec \"" + id + "\" (known: " + factories_.KnownNames() + ")", "/id");
  }
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
