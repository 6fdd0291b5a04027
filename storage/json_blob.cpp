#include "storage/spec_codec.h"

#include <zstd.h>

namespace batchd::storage {
namespace {
constexpr int kSpecCompressionLevel = 3;
}

std::string CompressSpec(std::string_view json_text) {
  std::string out(ZSTD_compressBound(json_text.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), json_text.data(), json_text.size(),
                                 kSpecCompressionLevel);
  // Compressing into a buffer of ZSTD_compressBound bytes cannot fail.
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

Result<std::string> DecompressSpec(std::string_view blob) {
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::IoError("batch.spec is not a zstd frame with a known size");
  }
  std::string out(size, '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), blob.data(), blob.size());
  if (ZSTD_isError(n) || n != size) {
    return Status::IoError(std::string("batch.spec does not decompress: ") +
                           (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return out;
}

}  // namespace batchd::storage
