// Element types of arrays: the numeric dtypes zarr stores, with their byte order.
// Supported: signed and unsigned integers of 1, 2, 4, 8 bytes and IEEE floats of 4 and 8 bytes,
// little- or big-endian. Everything else (bool, complex, strings, datetimes, structured types)
// is refused by name, so a session fails with a clear message instead of computing garbage.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "pipeline/bytes.h"

namespace batchd::pipeline {

struct DataType {
  enum class Kind { kInt, kUint, kFloat };
  Kind kind = Kind::kFloat;
  int size = 4;             // bytes per element: 1, 2, 4 or 8
  bool big_endian = false;  // meaningless for size 1

  // numpy's spelling, as zarr v2 writes it: "<f4", ">i2", "|u1".
  std::string ToNumpy() const;
  // zarr v3's data_type name: "float32", "int16", "uint8" (byte order lives in the codecs).
  std::string ToZarrV3() const;

  // Parses numpy's spelling (zarr v2 "dtype"). kInvalidArgument naming the dtype when it is not
  // one of the supported types (e.g. "<c8", "|b1", "<M8[ns]", a structured list).
  static Result<DataType> FromNumpy(std::string_view text);
  // Parses a zarr v3 data_type name; the byte order is set by the "bytes" codec later.
  static Result<DataType> FromZarrV3(std::string_view name);

  // True when elements must be byte-swapped to be read natively on this machine.
  bool NeedsSwap() const;

  friend bool operator==(const DataType&, const DataType&) = default;
};

// Reverses the byte order of every `element_size`-byte element in place.
void ByteSwapInPlace(MutableByteView data, int element_size);

}  // namespace batchd::pipeline
