#include "pipeline/formats/dtype.h"

#include <bit>

namespace batchd::pipeline {
namespace {

char KindLetter(DataType::Kind kind) {
  switch (kind) {
    case DataType::Kind::kInt:
      return 'i';
    case DataType::Kind::kUint:
      return 'u';
    case DataType::Kind::kFloat:
      return 'f';
  }
  return '?';
}

Status Unsupported(std::string_view text) {
  return Status::InvalidArgument(
      "unsupported dtype \"" + std::string(text) +
      "\": batchd reads signed and unsigned integers of 1, 2, 4 or 8 bytes and floats of 4 or 8 "
      "bytes, in either byte order");
}

}  // namespace

std::string DataType::ToNumpy() const {
  const char order = size == 1 ? '|' : (big_endian ? '>' : '<');
  return std::string{order, KindLetter(kind)} + std::to_string(size);
}

std::string DataType::ToZarrV3() const {
  const std::string bits = std::to_string(size * 8);
  switch (kind) {
    case Kind::kInt:
      return "int" + bits;
    case Kind::kUint:
      return "uint" + bits;
    case Kind::kFloat:
      return "float" + bits;
  }
  return "?";
}

Result<DataType> DataType::FromNumpy(std::string_view text) {
  if (text.size() < 3) return Unsupported(text);
  DataType t;
  switch (text[0]) {
    case '<':
      t.big_endian = false;
      break;
    case '>':
      t.big_endian = true;
      break;
    case '|':
    case '=':  // native; numpy writes '<' or '>' for multi-byte types, but accept it
      t.big_endian = std::endian::native == std::endian::big;
      break;
    default:
      return Unsupported(text);
  }
  switch (text[1]) {
    case 'i':
      t.kind = Kind::kInt;
      break;
    case 'u':
      t.kind = Kind::kUint;
      break;
    case 'f':
      t.kind = Kind::kFloat;
      break;
    default:
      return Unsupported(text);
  }
  const std::string_view digits = text.substr(2);
  if (digits == "1") {
    t.size = 1;
  } else if (digits == "2") {
    t.size = 2;
  } else if (digits == "4") {
    t.size = 4;
  } else if (digits == "8") {
    t.size = 8;
  } else {
    return Unsupported(text);
  }
  if (t.kind == Kind::kFloat && t.size < 4) return Unsupported(text);  // no half floats
  if (t.size == 1 && text[0] != '|') {
    // numpy spells one-byte types with '|'; '<' and '>' are harmless, so accept them.
    t.big_endian = false;
  }
  return t;
}

Result<DataType> DataType::FromZarrV3(std::string_view name) {
  DataType t;
  std::string_view bits;
  if (name.starts_with("uint")) {
    t.kind = Kind::kUint;
    bits = name.substr(4);
  } else if (name.starts_with("int")) {
    t.kind = Kind::kInt;
    bits = name.substr(3);
  } else if (name.starts_with("float")) {
    t.kind = Kind::kFloat;
    bits = name.substr(5);
  } else {
    return Unsupported(name);
  }
  if (bits == "8") {
    t.size = 1;
  } else if (bits == "16") {
    t.size = 2;
  } else if (bits == "32") {
    t.size = 4;
  } else if (bits == "64") {
    t.size = 8;
  } else {
    return Unsupported(name);
  }
  if (t.kind == Kind::kFloat && t.size < 4) return Unsupported(name);
  return t;
}

bool DataType::NeedsSwap() const {
  return size > 1 && big_endian != (std::endian::native == std::endian::big);
}

void ByteSwapInPlace(MutableByteView data, int element_size) {
  uint8_t* p = data.data();
  const size_t n = data.size() / static_cast<size_t>(element_size);
  switch (element_size) {
    case 2:
      for (size_t i = 0; i < n; ++i, p += 2) std::swap(p[0], p[1]);
      break;
    case 4:
      for (size_t i = 0; i < n; ++i, p += 4) {
        uint32_t v;
        __builtin_memcpy(&v, p, 4);
        v = __builtin_bswap32(v);
        __builtin_memcpy(p, &v, 4);
      }
      break;
    case 8:
      for (size_t i = 0; i < n; ++i, p += 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        v = __builtin_bswap64(v);
        __builtin_memcpy(p, &v, 8);
      }
      break;
    default:
      break;  // one-byte elements have no byte order
  }
}

}  // namespace batchd::pipeline
