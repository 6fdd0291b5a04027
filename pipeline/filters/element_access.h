// Shared by the numcodecs filters (not part of the pipeline's public surface): reading and
// writing one element of a DataType in a chunk's bytes, in the type's own byte order (numcodecs
// filters carry "<i4" or ">i4"), calling a generic lambda with a DataType's C++ type, and the
// dtype and size checks every filter makes.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/codecs/codec_config.h"
#include "pipeline/formats/dtype.h"

namespace batchd::pipeline::filter_detail {

template <typename T>
T SwapBytes(T value) {
  if constexpr (sizeof(T) == 1) {
    return value;
  } else {
    using Bits = std::conditional_t<sizeof(T) == 2, uint16_t,
                                    std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    Bits bits;
    std::memcpy(&bits, &value, sizeof(T));
    if constexpr (sizeof(T) == 2) bits = __builtin_bswap16(bits);
    if constexpr (sizeof(T) == 4) bits = __builtin_bswap32(bits);
    if constexpr (sizeof(T) == 8) bits = __builtin_bswap64(bits);
    std::memcpy(&value, &bits, sizeof(T));
    return value;
  }
}

// Element `i` of `bytes`, stored in the order `swap` says differs from this machine's.
template <typename T>
T Load(const uint8_t* bytes, size_t i, bool swap) {
  T value;
  std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
  return swap ? SwapBytes(value) : value;
}

template <typename T>
void Store(uint8_t* bytes, size_t i, T value, bool swap) {
  if (swap) value = SwapBytes(value);
  std::memcpy(bytes + i * sizeof(T), &value, sizeof(T));
}

// Calls f(T{}) with the C++ type of `type` (int8_t ... uint64_t, float, double).
template <typename F>
decltype(auto) WithType(const DataType& type, F&& f) {
  using K = DataType::Kind;
  if (type.kind == K::kFloat) return type.size == 4 ? f(float{}) : f(double{});
  const bool is_signed = type.kind == K::kInt;
  switch (type.size) {
    case 1:
      return is_signed ? f(int8_t{}) : f(uint8_t{});
    case 2:
      return is_signed ? f(int16_t{}) : f(uint16_t{});
    case 4:
      return is_signed ? f(int32_t{}) : f(uint32_t{});
    default:
      return is_signed ? f(int64_t{}) : f(uint64_t{});
  }
}

inline bool IsInteger(const DataType& type) { return type.kind != DataType::Kind::kFloat; }

// The member as a numpy dtype ("<i4"); `fallback` when it is absent (nullptr: it is required).
inline Result<DataType> DtypeMember(CodecConfigReader& reader, std::string_view member,
                                    const DataType* fallback) {
  if (!reader.Has(member)) {
    if (fallback != nullptr) return *fallback;
    return reader.Invalid(member, "is missing: it must name a numpy dtype such as \"<f8\"");
  }
  ASSIGN_OR_RETURN(const std::string text, reader.String(member, ""));
  Result<DataType> parsed = DataType::FromNumpy(text);
  if (!parsed.ok()) return reader.Invalid(member, parsed.status().message());
  return *parsed;
}

// numcodecs views the bytes it is given as its own dtype: the chain must hand the filter
// elements of that size.
inline Status CheckViewSize(CodecConfigReader& reader, const DataType& own, const DataType& given) {
  if (own.size == given.size) return Status::Ok();
  return reader.Invalid("dtype", own.ToNumpy() + " has " + std::to_string(own.size) +
                                     "-byte elements but the chain gives it " +
                                     std::to_string(given.size) + "-byte elements (" +
                                     given.ToNumpy() + ")");
}

// The element count `in` and `out` agree on, or kCorrupt naming the filter.
inline Result<size_t> ElementCount(std::string_view id, ByteView in, const DataType& in_type,
                                   MutableByteView out, const DataType& out_type) {
  const auto in_size = static_cast<size_t>(in_type.size);
  const auto out_size = static_cast<size_t>(out_type.size);
  if (in.size() % in_size != 0 || in.size() / in_size != out.size() / out_size ||
      out.size() % out_size != 0) {
    return Status::Corrupt(std::string(id) + ": " + std::to_string(in.size()) + " bytes of " +
                           in_type.ToNumpy() + " do not decode to " + std::to_string(out.size()) +
                           " bytes of " + out_type.ToNumpy());
  }
  return in.size() / in_size;
}

inline bool NeedsSwap(const DataType& type) { return type.NeedsSwap(); }

}  // namespace batchd::pipeline::filter_detail
