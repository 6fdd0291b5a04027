#include "pipeline/filters/chunk_codec_chain.h"

namespace batchd::pipeline {
namespace {

// Per decode thread, reused for every chunk: the intermediate stages of a filtered chunk.
// Trimmed after a chunk much smaller than they grew to (as the pipeline's own buffers are).
constexpr size_t kKeepBufferBytes = 8 << 20;
Bytes& Sized(Bytes& buffer, size_t size) {
  if (buffer.capacity() > kKeepBufferBytes && buffer.capacity() > 4 * size) Bytes().swap(buffer);
  buffer.resize(size);
  return buffer;
}

}  // namespace

Result<std::vector<std::unique_ptr<const Filter>>> CreateFilters(const FilterRegistry& registry,
                                                                 const ArrayMetadata& array) {
  std::vector<std::unique_ptr<const Filter>> filters;
  if (array.filters.is_null()) return filters;
  if (!array.filters.is_array()) {
    return Status::InvalidArgument("filters must be a list of filter configs, got " +
                                   array.filters.dump());
  }
  FilterContext context{.dtype = array.dtype, .chunk_shape = array.chunk_shape};
  for (const nlohmann::json& config : array.filters) {
    ASSIGN_OR_RETURN(std::unique_ptr<const Filter> filter, registry.Create(config, context));
    context.dtype = filter->EncodedType();
    filters.push_back(std::move(filter));
  }
  return filters;
}

Result<std::shared_ptr<const ChunkCodecChain>> ChunkCodecChain::Create(const CodecRegistry& codecs,
                                                                       const ArrayMetadata& array) {
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<const Filter>> filters,
                   CreateFilters(codecs.filters(), array));
  // blosc's typesize is the size of the elements it is given: the last filter's.
  const int stored_size = filters.empty() ? array.dtype.size : filters.back()->EncodedType().size;
  ASSIGN_OR_RETURN(std::unique_ptr<const Codec> codec,
                   codecs.Create(array.codec, {.element_size = static_cast<size_t>(stored_size)}));
  std::vector<std::unique_ptr<const Codec>> outer;
  if (!array.outer_codecs.is_array()) {
    return Status::InvalidArgument("outer codecs must be a list, got " + array.outer_codecs.dump());
  }
  for (const nlohmann::json& config : array.outer_codecs) {
    ASSIGN_OR_RETURN(std::unique_ptr<const Codec> c, codecs.Create(config, {}));
    // Probe: a codec whose encoding says its decoded size answers for its own encoding.
    Bytes probe;
    RETURN_IF_ERROR(c->Encode(Bytes(1, 0), probe));
    if (!c->DecodedSize(probe).has_value()) {
      return Status::InvalidArgument("codec \"" + config.value("id", std::string()) +
                                     "\" cannot follow the compressor: only checksums can");
    }
    outer.push_back(std::move(c));
  }
  return std::shared_ptr<const ChunkCodecChain>(new ChunkCodecChain(
      std::move(codec), std::move(filters), std::move(outer), array.dtype.size));
}

size_t ChunkCodecChain::StoredBytes(size_t chunk_bytes) const {
  if (filters_.empty()) return chunk_bytes;
  const size_t elements = chunk_bytes / static_cast<size_t>(array_element_size_);
  return elements * static_cast<size_t>(filters_.back()->EncodedType().size);
}

Status ChunkCodecChain::DecodeInto(ByteView in, MutableByteView out) const {
  if (outer_.empty()) {
    if (filters_.empty()) return codec_->DecodeInto(in, out);
    return DecodeFilters(in, out);
  }
  // Outer codecs first (last applied on encode), each into its own buffer.
  thread_local Bytes outer_stages[2];
  ByteView current = in;
  size_t stage = 0;
  for (size_t k = outer_.size(); k-- > 0;) {
    const std::optional<size_t> size = outer_[k]->DecodedSize(current);
    if (!size) {
      // The codec's own decode says what is wrong with its input.
      Bytes none;
      RETURN_IF_ERROR(outer_[k]->DecodeInto(current, none));
      return Status::Corrupt("codec chain: the stored value is too short");
    }
    Bytes& next = Sized(outer_stages[stage], *size);
    RETURN_IF_ERROR(outer_[k]->DecodeInto(current, next));
    current = next;
    stage ^= 1;
  }
  if (filters_.empty()) return codec_->DecodeInto(current, out);
  return DecodeFilters(current, out);
}

Status ChunkCodecChain::DecodeFilters(ByteView in, MutableByteView out) const {
  const size_t elements = out.size() / static_cast<size_t>(array_element_size_);
  thread_local Bytes stages[2];
  Bytes* current = &Sized(stages[0], StoredBytes(out.size()));
  RETURN_IF_ERROR(codec_->DecodeInto(in, *current));
  for (size_t k = filters_.size(); k-- > 0;) {
    const Filter& filter = *filters_[k];
    if (k == 0) return filter.DecodeInto(*current, out);
    Bytes* next = current == &stages[0] ? &stages[1] : &stages[0];
    Sized(*next, elements * static_cast<size_t>(filter.DecodedType().size));
    RETURN_IF_ERROR(filter.DecodeInto(*current, *next));
    current = next;
  }
  return Status::Ok();  // not reached: the loop returns at k == 0
}

Status ChunkCodecChain::Encode(ByteView in, Bytes& out) const {
  if (filters_.empty() && outer_.empty()) return codec_->Encode(in, out);
  Bytes current(in.begin(), in.end()), next;
  for (const auto& filter : filters_) {
    RETURN_IF_ERROR(filter->Encode(current, next));
    current.swap(next);
  }
  RETURN_IF_ERROR(codec_->Encode(current, next));
  current.swap(next);
  for (const auto& codec : outer_) {
    RETURN_IF_ERROR(codec->Encode(current, next));
    current.swap(next);
  }
  out.swap(current);
  return Status::Ok();
}

}  // namespace batchd::pipeline
