#include "storage/json_blob.h"

#include <zstd.h>

#include <memory>

namespace batchd::storage {
namespace {
// Small documents (one session's state) get zstd's fastest level: at level 3, setting up the
// match tables costs ~4 us per call whatever the input, 10x more than compressing 100 bytes
// at level -1. Larger ones (specs with long item lists) are worth level 3.
constexpr size_t kSmallDocument = 4096;
constexpr int kSmallLevel = -1;
constexpr int kLargeLevel = 3;
}  // namespace

std::string CompressJson(std::string_view json_text) {
  // One context per thread: creating one per call costs more than compressing a small state.
  struct ContextDeleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_CCtx, ContextDeleter> context(ZSTD_createCCtx());
  std::string out(ZSTD_compressBound(json_text.size()), '\0');
  const size_t n =
      ZSTD_compressCCtx(context.get(), out.data(), out.size(), json_text.data(), json_text.size(),
                        json_text.size() < kSmallDocument ? kSmallLevel : kLargeLevel);
  // Compressing into a buffer of ZSTD_compressBound bytes cannot fail.
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

Result<std::string> DecompressJson(std::string_view blob) {
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::IoError("stored JSON blob is not a zstd frame of known size");
  }
  std::string out(size, '\0');
  struct ContextDeleter {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_DCtx, ContextDeleter> context(ZSTD_createDCtx());
  const size_t n =
      ZSTD_decompressDCtx(context.get(), out.data(), out.size(), blob.data(), blob.size());
  if (ZSTD_isError(n) || n != size) {
    return Status::IoError(std::string("stored JSON blob does not decompress: ") +
                           (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return out;
}

}  // namespace batchd::storage
