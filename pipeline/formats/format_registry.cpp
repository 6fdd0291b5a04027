#include "pipeline/formats/array_format.h"
#include "pipeline/formats/format_documents.h"

namespace batchd::pipeline {

Result<nlohmann::json> ReadJsonDocument(ChunkStore& store, const std::string& key) {
  ASSIGN_OR_RETURN(std::optional<Bytes> bytes, ReadKey(store, key));
  if (!bytes) return Status::NotFound(store.url() + "/" + key + " does not exist");
  nlohmann::json doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (doc.is_discarded()) {
    return Status::InvalidArgument(store.url() + "/" + key + " is not valid JSON");
  }
  return doc;
}

nlohmann::json MemberOrNull(const nlohmann::json& doc, const char* name) {
  if (!doc.is_object()) return nullptr;
  auto it = doc.find(name);
  return it == doc.end() ? nlohmann::json() : *it;
}

MetadataErrors::MetadataErrors(const ChunkStore& store, std::string document)
    : prefix_(store.url() + "/" + std::move(document) + ": ") {}

Status MetadataErrors::Invalid(const std::string& what) const {
  return Status::InvalidArgument(prefix_ + what);
}

Status MetadataErrors::Check(const Status& status) const {
  if (status.ok()) return status;
  return Status(status.code(), prefix_ + status.message(), status.path());
}

Result<std::vector<int64_t>> MetadataErrors::IntList(const nlohmann::json& doc,
                                                     const char* name) const {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_array()) {
    return Invalid(std::string("\"") + name + "\" must be a list of integers");
  }
  std::vector<int64_t> out;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) {
      return Invalid(std::string("\"") + name + "\" must be a list of integers, got " + it->dump());
    }
    out.push_back(v.get<int64_t>());
  }
  return out;
}

Result<std::string> MetadataErrors::String(const nlohmann::json& doc, const char* name,
                                           std::string fallback) const {
  if (!doc.is_object()) return fallback;
  auto it = doc.find(name);
  if (it == doc.end()) return fallback;
  if (!it->is_string()) {
    return Invalid(std::string("\"") + name + "\" must be a string, got " + it->dump());
  }
  return it->get<std::string>();
}

Status MetadataErrors::CheckCodec(const CodecRegistry& codecs, const nlohmann::json& codec,
                                  const DataType& dtype, const std::string& member) const {
  Result<std::unique_ptr<const Codec>> made =
      codecs.Create(codec, {.element_size = static_cast<size_t>(dtype.size)});
  if (made.ok()) return Status::Ok();
  return Invalid("\"" + member + "\" " + codec.dump() + ": " + made.status().message());
}

Status MetadataErrors::CheckFilters(const CodecRegistry& codecs, const ArrayMetadata& array,
                                    const std::string& member) const {
  Result<std::vector<std::unique_ptr<const Filter>>> made = CreateFilters(codecs.filters(), array);
  if (made.ok()) return Status::Ok();
  return Invalid("\"" + member + "\": " + made.status().message());
}

void FormatRegistry::Register(std::string name, std::unique_ptr<ArrayFormat> format) {
  formats_.Register(std::move(name), std::move(format));
}

Result<ArrayMetadata> FormatRegistry::Open(ChunkStore& store, const nlohmann::json& source) const {
  const nlohmann::json name =
      source.is_object() ? source.value("format", nlohmann::json("auto")) : nlohmann::json("auto");
  if (!name.is_string()) {
    return Status::InvalidArgument("source format must be a string, got " + name.dump(),
                                   "/source/format");
  }
  if (name != "auto") {
    const std::unique_ptr<ArrayFormat>* format = formats_.Find(name.get<std::string>());
    if (format == nullptr) {
      return Status::InvalidArgument("unknown source format " + name.dump() +
                                         "; known formats: auto, " + formats_.KnownNames(),
                                     "/source/format");
    }
    return (*format)->Open(store, source);
  }
  // Auto-detection: whichever metadata document exists, zarr v2 first (zarr-python 2's
  // default), so an array holding both is read the way most writers meant it.
  for (const char* candidate : {"zarr2", "zarr3"}) {
    const std::unique_ptr<ArrayFormat>* format = formats_.Find(candidate);
    if (format == nullptr) continue;
    Result<ArrayMetadata> opened = (*format)->Open(store, source);
    if (opened.ok() || opened.status().code() != StatusCode::kNotFound) return opened;
  }
  return Status::InvalidArgument("no array at " + store.url() +
                                 ": neither .zarray (zarr v2) nor zarr.json (zarr v3) exists; "
                                 "for a directory of raw chunks set \"format\": \"raw\"");
}

void RegisterBuiltinFormats(FormatRegistry& registry, const CodecRegistry& codecs) {
  registry.Register("zarr2", MakeZarrV2Format(codecs));
  registry.Register("zarr3", MakeZarrV3Format(codecs));
  registry.Register("raw", MakeRawFormat(codecs));
}

}  // namespace batchd::pipeline
