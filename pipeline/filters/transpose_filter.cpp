// "transpose": the zarr v3 array -> array codec (https://zarr-specs.readthedocs.io/en/latest/v3/
// codecs/transpose/index.html), also how zarr v2 `order: "F"` reads (order = [n-1, ..., 0]).
// With "order" a permutation of the chunk's dimensions, the encoded chunk is the decoded one
// transposed: its dimension i is the decoded dimension order[i], and it is stored in C order.
// Decoding moves every element back to the decoded chunk's C order, the only order the ops see.
// Edge chunks are stored at full chunk shape, so the permutation is always over the full shape.
#include <algorithm>
#include <memory>
#include <numeric>

#include "pipeline/filters/builtin_filters.h"
#include "pipeline/filters/element_access.h"

namespace batchd::pipeline {
namespace {

using namespace filter_detail;

class TransposeFilter final : public Filter {
 public:
  TransposeFilter(std::vector<int64_t> order, DataType dtype, std::vector<int64_t> chunk_shape)
      : order_(std::move(order)), dtype_(dtype), shape_(std::move(chunk_shape)) {
    elements_ = std::accumulate(shape_.begin(), shape_.end(), int64_t{1}, std::multiplies<>());
    // C strides of the encoded chunk, then, for each decoded dimension, the stride of the
    // encoded dimension it became.
    const size_t rank = shape_.size();
    std::vector<int64_t> encoded_strides(rank, 1);
    for (size_t k = rank; k-- > 1;) {
      encoded_strides[k - 1] = encoded_strides[k] * shape_[static_cast<size_t>(order_[k])];
    }
    source_strides_.resize(rank);
    for (size_t k = 0; k < rank; ++k) {
      source_strides_[static_cast<size_t>(order_[k])] = encoded_strides[k];
    }
  }

  nlohmann::json ToJson() const override { return {{"id", "transpose"}, {"order", order_}}; }
  DataType DecodedType() const override { return dtype_; }
  DataType EncodedType() const override { return dtype_; }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    RETURN_IF_ERROR(CheckChunk(in.size(), out.size()));
    Permute(in.data(), out.data(), /*gather=*/true);
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    const size_t bytes = ChunkBytes();
    if (in.size() != bytes) {
      return Status::InvalidArgument("transpose: " + std::to_string(in.size()) +
                                     " bytes are not one chunk of " + std::to_string(bytes));
    }
    out.resize(bytes);
    Permute(in.data(), out.data(), /*gather=*/false);
    return Status::Ok();
  }

 private:
  size_t ChunkBytes() const { return static_cast<size_t>(elements_) * dtype_.size; }

  Status CheckChunk(size_t in, size_t out) const {
    const size_t bytes = ChunkBytes();
    if (in == bytes && out == bytes) return Status::Ok();
    return Status::Corrupt("transpose: " + std::to_string(in) + " bytes do not decode to a " +
                           nlohmann::json(shape_).dump() + " chunk of " + dtype_.ToNumpy() + " (" +
                           std::to_string(bytes) + " bytes; " + std::to_string(out) +
                           " asked for)");
  }

  // Walks the decoded chunk in C order; gather: decoded[i] = encoded[source(i)], otherwise
  // encoded[source(i)] = decoded[i].
  void Permute(const uint8_t* from, uint8_t* to, bool gather) const {
    WithType(dtype_, [&](auto t) {
      using T = decltype(t);
      const size_t rank = shape_.size();
      if (elements_ == 0) return;
      if (rank == 0) return Copy<T>(from, 0, to, 0);
      std::vector<int64_t> index(rank, 0);
      const int64_t inner = shape_[rank - 1];
      const int64_t inner_stride = source_strides_[rank - 1];
      int64_t decoded = 0;
      for (;;) {
        int64_t source = 0;
        for (size_t d = 0; d + 1 < rank; ++d) source += index[d] * source_strides_[d];
        for (int64_t j = 0; j < inner; ++j, ++decoded, source += inner_stride) {
          if (gather) {
            Copy<T>(from, source, to, decoded);
          } else {
            Copy<T>(from, decoded, to, source);
          }
        }
        // The next index over the outer dimensions; done when they wrap around.
        if (rank == 1) return;
        for (size_t d = rank - 1;;) {
          --d;
          if (++index[d] < shape_[d]) break;
          index[d] = 0;
          if (d == 0) return;
        }
      }
    });
  }

  template <typename T>
  static void Copy(const uint8_t* from, int64_t i, uint8_t* to, int64_t j) {
    std::memcpy(to + j * static_cast<int64_t>(sizeof(T)),
                from + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  }

  const std::vector<int64_t> order_;
  const DataType dtype_;
  const std::vector<int64_t> shape_;  // the decoded chunk's
  int64_t elements_ = 0;
  std::vector<int64_t> source_strides_;  // per decoded dimension
};

}  // namespace

Result<std::unique_ptr<const Filter>> CreateTransposeFilter(const nlohmann::json& config,
                                                            const FilterContext& context) {
  CodecConfigReader reader("transpose", config);
  const size_t rank = context.chunk_shape.size();
  if (!reader.Has("order")) return reader.Invalid("order", "is missing: it must be a permutation");
  const nlohmann::json& value = *reader.Raw("order");
  std::vector<int64_t> order;
  std::vector<bool> seen(rank, false);
  const std::string expected = "must be a permutation of 0.." + std::to_string(rank) +
                               " - 1 (the chunk has " + std::to_string(rank) + " dimensions)";
  if (!value.is_array() || value.size() != rank) {
    return reader.Invalid("order", expected + ", got " + value.dump());
  }
  for (const nlohmann::json& entry : value) {
    if (!entry.is_number_integer() || entry.get<int64_t>() < 0 ||
        entry.get<int64_t>() >= static_cast<int64_t>(rank) ||
        seen[static_cast<size_t>(entry.get<int64_t>())]) {
      return reader.Invalid("order", expected + ", got " + value.dump());
    }
    seen[static_cast<size_t>(entry.get<int64_t>())] = true;
    order.push_back(entry.get<int64_t>());
  }
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  return std::unique_ptr<const Filter>(
      std::make_unique<TransposeFilter>(std::move(order), context.dtype, context.chunk_shape));
}

}  // namespace batchd::pipeline
