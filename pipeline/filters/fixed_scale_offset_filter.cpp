// "fixedscaleoffset": numcodecs FixedScaleOffset. Encode stores round((x - offset) * scale) as
// "astype"; decode computes numpy's (enc / scale) + offset and casts it to "dtype".
//
// The arithmetic numpy does, which decode repeats exactly:
//   - astype an integer or float64: enc / scale is float64 (true division of integers is
//     float64; the Python scalars scale and offset do not narrow it), and so is + offset.
//   - astype float32: numpy keeps float32 when scale and offset fit in one (its value-based
//     casting of Python scalars), so both steps round to float32; a scale or offset beyond
//     float32's range would make it float64, and is refused.
//   - the cast to dtype: float64 -> float32 rounds to nearest; a float -> integer cast
//     truncates toward zero. numpy's cast of NaN or of a value outside the integer type is
//     undefined behaviour in C (whatever the CPU gives); here it is a chunk error naming the
//     value instead.
// A scale of 0 is refused: zarr-python could not have written anything it decodes.
#include <cmath>
#include <limits>
#include <memory>

#include "pipeline/filters/builtin_filters.h"
#include "pipeline/filters/element_access.h"

namespace batchd::pipeline {
namespace {

using namespace filter_detail;

// `value` cast to integer type T as C truncates, or nullopt when it is NaN or out of T's range.
template <typename T, typename F>
std::optional<T> TruncateTo(F value) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(value);
  } else {
    // Bounds as exact powers of two: min is -2^(bits-1) (0 for unsigned), max+1 is 2^bits or
    // 2^(bits-1). Truncation keeps anything strictly between min-1 and max+1.
    // (For int64, -2^63 - 1 rounds to -2^63 in a double, hence the second test.)
    const double upper = std::ldexp(1.0, std::numeric_limits<T>::digits);
    const double v = static_cast<double>(value);
    const bool above_min = std::is_signed_v<T> ? (v > -upper - 1.0 || v == -upper) : v > -1.0;
    if (!(above_min && v < upper)) return std::nullopt;
    return static_cast<T>(v);
  }
}

class FixedScaleOffsetFilter final : public Filter {
 public:
  FixedScaleOffsetFilter(nlohmann::json scale_json, nlohmann::json offset_json, double scale,
                         double offset, DataType dtype, DataType astype)
      : scale_json_(std::move(scale_json)),
        offset_json_(std::move(offset_json)),
        scale_(scale),
        offset_(offset),
        dtype_(dtype),
        astype_(astype) {}

  nlohmann::json ToJson() const override {
    return {{"id", "fixedscaleoffset"},
            {"scale", scale_json_},
            {"offset", offset_json_},
            {"dtype", dtype_.ToNumpy()},
            {"astype", astype_.ToNumpy()}};
  }
  DataType DecodedType() const override { return dtype_; }
  DataType EncodedType() const override { return astype_; }

  Status DecodeInto(ByteView in, MutableByteView out) const override {
    ASSIGN_OR_RETURN(const size_t n, ElementCount("fixedscaleoffset", in, astype_, out, dtype_));
    const bool in_swap = NeedsSwap(astype_), out_swap = NeedsSwap(dtype_);
    return WithType(astype_, [&](auto a) {
      using A = decltype(a);
      // numpy's computation type: float32 for float32 storage, float64 otherwise.
      using C = std::conditional_t<std::is_same_v<A, float>, float, double>;
      const C scale = static_cast<C>(scale_), offset = static_cast<C>(offset_);
      return WithType(dtype_, [&](auto d) -> Status {
        using D = decltype(d);
        for (size_t i = 0; i < n; ++i) {
          const C value =
              static_cast<C>(static_cast<C>(Load<A>(in.data(), i, in_swap)) / scale) + offset;
          const std::optional<D> cast = TruncateTo<D>(value);
          if (!cast) {
            return Status::Corrupt("fixedscaleoffset: element " + std::to_string(i) +
                                   " decodes to " + std::to_string(static_cast<double>(value)) +
                                   ", which " + dtype_.ToNumpy() + " cannot hold");
          }
          Store<D>(out.data(), i, *cast, out_swap);
        }
        return Status::Ok();
      });
    });
  }

  Status Encode(ByteView in, Bytes& out) const override {
    if (in.size() % static_cast<size_t>(dtype_.size) != 0) {
      return Status::InvalidArgument("fixedscaleoffset: " + std::to_string(in.size()) +
                                     " bytes are not a whole number of " + dtype_.ToNumpy() +
                                     " elements");
    }
    const size_t n = in.size() / static_cast<size_t>(dtype_.size);
    out.resize(n * static_cast<size_t>(astype_.size));
    const bool in_swap = NeedsSwap(dtype_), out_swap = NeedsSwap(astype_);
    return WithType(dtype_, [&](auto d) {
      using D = decltype(d);
      using C = std::conditional_t<std::is_same_v<D, float>, float, double>;
      const C scale = static_cast<C>(scale_), offset = static_cast<C>(offset_);
      return WithType(astype_, [&](auto a) -> Status {
        using A = decltype(a);
        for (size_t i = 0; i < n; ++i) {
          // np.around rounds half to even: nearbyint in the default rounding mode.
          const C value = std::nearbyint(
              static_cast<C>(static_cast<C>(Load<D>(in.data(), i, in_swap)) - offset) * scale);
          const std::optional<A> cast = TruncateTo<A>(value);
          if (!cast) {
            return Status::InvalidArgument("fixedscaleoffset: element " + std::to_string(i) +
                                           " encodes to " +
                                           std::to_string(static_cast<double>(value)) + ", which " +
                                           astype_.ToNumpy() + " cannot hold");
          }
          Store<A>(out.data(), i, *cast, out_swap);
        }
        return Status::Ok();
      });
    });
  }

 private:
  const nlohmann::json scale_json_, offset_json_;  // as the config spelled them
  const double scale_, offset_;
  const DataType dtype_;   // decoded
  const DataType astype_;  // stored
};

}  // namespace

Result<std::unique_ptr<const Filter>> CreateFixedScaleOffsetFilter(const nlohmann::json& config,
                                                                   const FilterContext& context) {
  CodecConfigReader reader("fixedscaleoffset", config);
  ASSIGN_OR_RETURN(const double scale, reader.Number("scale", std::nullopt));
  ASSIGN_OR_RETURN(const double offset, reader.Number("offset", std::nullopt));
  ASSIGN_OR_RETURN(const DataType dtype, DtypeMember(reader, "dtype", nullptr));
  ASSIGN_OR_RETURN(const DataType astype, DtypeMember(reader, "astype", &dtype));
  RETURN_IF_ERROR(reader.RejectUnknownMembers());
  RETURN_IF_ERROR(CheckViewSize(reader, dtype, context.dtype));
  if (scale == 0) return reader.Invalid("scale", "must not be 0");
  for (const char* member : {"scale", "offset"}) {
    const nlohmann::json& value = config[member];
    if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t{INT64_MAX}) {
      return reader.Invalid(member, "is unsupported: " + value.dump() +
                                        " is beyond int64, which numpy keeps as a Python object");
    }
    const double v = value.get<double>();
    if (astype.kind == DataType::Kind::kFloat && astype.size == 4 &&
        std::abs(v) > std::numeric_limits<float>::max()) {
      return reader.Invalid(member, "is unsupported with astype " + astype.ToNumpy() + ": " +
                                        value.dump() +
                                        " is beyond float32, so numpy would compute in float64");
    }
  }
  return std::unique_ptr<const Filter>(std::make_unique<FixedScaleOffsetFilter>(
      config["scale"], config["offset"], scale, offset, dtype, astype));
}

}  // namespace batchd::pipeline
