// raw: a directory of chunk files with no metadata document; the job's source spec says
// everything: {"url", "format": "raw", "shape", "chunks", "dtype", "codec", "separator",
// "fill_value"}. Errors carry the JSON Pointer of the offending member of the job.
#include "pipeline/formats/format_documents.h"

namespace batchd::pipeline {
namespace {

Result<std::vector<int64_t>> SourceIntList(const nlohmann::json& source, const char* name) {
  auto it = source.find(name);
  const std::string path = std::string("/source/") + name;
  if (it == source.end() || !it->is_array()) {
    return Status::InvalidArgument(
        std::string("the raw format needs \"") + name + "\": a list of integers", path);
  }
  std::vector<int64_t> out;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) {
      return Status::InvalidArgument(std::string("\"") + name + "\" must be a list of integers",
                                     path);
    }
    out.push_back(v.get<int64_t>());
  }
  return out;
}

class RawFormat final : public ArrayFormat {
 public:
  explicit RawFormat(const CodecRegistry& codecs) : codecs_(codecs) {}

  Result<ArrayMetadata> Open(ChunkStore&, const nlohmann::json& source) const override {
    ArrayMetadata m;
    m.format = "raw";
    ASSIGN_OR_RETURN(m.shape, SourceIntList(source, "shape"));
    ASSIGN_OR_RETURN(m.chunk_shape, SourceIntList(source, "chunks"));

    const nlohmann::json dtype = source.value("dtype", nlohmann::json());
    if (!dtype.is_string()) {
      return Status::InvalidArgument("the raw format needs \"dtype\", e.g. \"<f4\"",
                                     "/source/dtype");
    }
    Result<DataType> parsed = DataType::FromNumpy(dtype.get<std::string>());
    if (!parsed.ok()) return Status::InvalidArgument(parsed.status().message(), "/source/dtype");
    m.dtype = *parsed;

    // Not value("separator", "."): it throws when a client sends a separator that is no string.
    nlohmann::json separator = MemberOrNull(source, "separator");
    if (separator.is_null()) separator = ".";
    if (separator != "." && separator != "/") {
      return Status::InvalidArgument("\"separator\" must be \".\" or \"/\"", "/source/separator");
    }
    m.keys = {.prefix = "", .separator = separator.get_ref<const std::string&>()[0]};
    m.fill_value = source.value("fill_value", nlohmann::json(0));

    const nlohmann::json codec = source.value("codec", nlohmann::json());
    m.codec = codec.is_null() ? nlohmann::json{{"id", "raw"}} : codec;
    Result<std::unique_ptr<const Codec>> made =
        codecs_.Create(m.codec, {.element_size = static_cast<size_t>(m.dtype.size)});
    if (!made.ok()) return Status::InvalidArgument(made.status().message(), "/source/codec");

    if (Status s = m.Validate(); !s.ok()) return Status::InvalidArgument(s.message(), "/source");
    return m;
  }

 private:
  const CodecRegistry& codecs_;
};

}  // namespace

std::unique_ptr<ArrayFormat> MakeRawFormat(const CodecRegistry& codecs) {
  return std::make_unique<RawFormat>(codecs);
}

}  // namespace batchd::pipeline
