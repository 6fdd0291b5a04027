// "delta": numcodecs Delta. Encode stores the first element and then each element minus the one
// before it, as "astype"; decode is numpy's cumsum of the stored elements into "dtype"
// (np.cumsum(enc, out=dec)). Also the reference implementation of a filter (filter.h): config
// read through CodecConfigReader, the pairs numpy computes exactly refused otherwise by name,
// element-count checks before any output is written.
//
// What numpy computes, and so what is accepted:
//   - integer dtype and integer astype: the running sum wraps modulo 2^(8 * dtype size), the
//     stored elements sign- or zero-extended first. That is numpy's result whatever integer
//     type it accumulates in, so any two integer types are exact, except a uint64 paired with a
//     signed type: numpy then promotes to float64 and rounds.
//   - float dtype and float astype of at most its size: the sum runs in dtype, one element at a
//     time (accumulate is sequential), each stored element widened exactly.
// Everything else (int <-> float, float64 stored as float32's dtype) is refused at creation.
#include <memory>

#include "pipeline/filters/builtin_filters.h"
#include "pipeline/filters/element_access.h"

namespace batchd::pipeline {
namespace {

using namespace filter_detail;

// The integer value of an element as an unsigned 64-bit two's complement pattern.
template <typename T>
uint64_t Widen(T value) {
  return static_cast<uint64_t>(
      static_cast<std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>(value));
}

class DeltaFilter final : public Filter {
 public:
  DeltaFilter(DataType dtype, DataType astype) : dtype_(dtype), astype_(astype) {}

  nlohmann::json ToJson() const override {
    return {{"id", "delta"}, {"dtype", dtype_.ToNumpy()}, {"astype", astype_.ToNumpy()}};
  }
  DataType DecodedType() const override { return dtype_; }
  DataType EncodedType() const override { return astype_; }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    ASSIGN_OR_RETURN(const size_t n, ElementCount("delta", in, astype_, out, dtype_));
    const bool in_swap = NeedsSwap(astype_), out_swap = NeedsSwap(dtype_);
    WithType(astype_, [&](auto a) {
      using A = decltype(a);
      WithType(dtype_, [&](auto d) {
        using D = decltype(d);
        if constexpr (std::is_integral_v<A> && std::is_integral_v<D>) {
          uint64_t sum = 0;
          for (size_t i = 0; i < n; ++i) {
            sum += Widen(Load<A>(in.data(), i, in_swap));
            Store<D>(out.data(), i, static_cast<D>(sum), out_swap);  // modulo 2^bits (C++20)
          }
        } else if constexpr (std::is_floating_point_v<A> && std::is_floating_point_v<D>) {
          D sum = 0;
          for (size_t i = 0; i < n; ++i) {
            const D element = static_cast<D>(Load<A>(in.data(), i, in_swap));
            sum = i == 0 ? element : static_cast<D>(sum + element);
            Store<D>(out.data(), i, sum, out_swap);
          }
        }
      });
    });
    return Status::Ok();
  }

  Status Encode(ByteView in, Bytes& out) const override {
    if (in.size() % static_cast<size_t>(dtype_.size) != 0) {
      return Status::InvalidArgument("delta: " + std::to_string(in.size()) +
                                     " bytes are not a whole number of " + dtype_.ToNumpy() +
                                     " elements");
    }
    const size_t n = in.size() / static_cast<size_t>(dtype_.size);
    out.resize(n * static_cast<size_t>(astype_.size));
    const bool in_swap = NeedsSwap(dtype_), out_swap = NeedsSwap(astype_);
    WithType(dtype_, [&](auto d) {
      using D = decltype(d);
      WithType(astype_, [&](auto a) {
        using A = decltype(a);
        if constexpr (std::is_integral_v<A> == std::is_integral_v<D>) {
          D previous{};
          for (size_t i = 0; i < n; ++i) {
            const D element = Load<D>(in.data(), i, in_swap);
            D diff;
            if constexpr (std::is_integral_v<D>) {
              diff = static_cast<D>(Widen(element) - Widen(previous));  // np.diff wraps
            } else {
              diff = static_cast<D>(element - previous);
            }
            Store<A>(out.data(), i, static_cast<A>(i == 0 ? element : diff), out_swap);
            previous = element;
          }
        }
      });
    });
    return Status::Ok();
  }

 private:
  const DataType dtype_;   // decoded
  const DataType astype_;  // stored
};

bool IsUint64(const DataType& t) { return t.kind == DataType::Kind::kUint && t.size == 8; }

}  // namespace

Result<std::unique_ptr<const Filter>> CreateDeltaFilter(const nlohmann::json& config,
                                                        const FilterContext& context) {
  CodecConfigReader reader("delta", config);
  ASSIGN_OR_RETURN(const DataType dtype, DtypeMember(reader, "dtype", nullptr));
  ASSIGN_OR_RETURN(const DataType astype, DtypeMember(reader, "astype", &dtype));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  RETURN_IF_ERROR(CheckViewSize(reader, dtype, context.dtype));
  const std::string pair = "dtype " + dtype.ToNumpy() + " with astype " + astype.ToNumpy();
  if (IsInteger(dtype) != IsInteger(astype)) {
    return reader.Invalid("astype", "is unsupported: " + pair +
                                        " mixes integers and floats (numpy's cumsum would cast)");
  }
  if (IsInteger(dtype) && ((IsUint64(dtype) && astype.kind == DataType::Kind::kInt) ||
                           (IsUint64(astype) && dtype.kind == DataType::Kind::kInt))) {
    return reader.Invalid("astype",
                          "is unsupported: " + pair + " makes numpy sum in float64, which rounds");
  }
  if (!IsInteger(dtype) && astype.size > dtype.size) {
    return reader.Invalid("astype", "is unsupported: " + pair +
                                        " narrows each partial sum (numpy rounds it per step)");
  }
  return std::unique_ptr<const Filter>(std::make_unique<DeltaFilter>(dtype, astype));
}

}  // namespace batchd::pipeline
