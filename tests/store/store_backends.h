// The stores under test, each behind the same small interface so that one conformance suite
// runs against all of them: a registry that opens it, the URL of a fresh array, and the
// directory where that array's keys live (both built-in stores are directory-backed: file://
// directly, http:// and https:// through nginx's document root), so tests can place and inspect
// bytes without going through the store.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/bytes.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_allowlist.h"

namespace batchd::testing {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Empty when the backend started; otherwise why not (the test fails with it).
  virtual std::string StartError() const = 0;
  virtual std::string ArrayUrl(const std::string& array) const = 0;
  virtual std::filesystem::path ArrayDir(const std::string& array) const = 0;

  // Dropped by tests that check what happens when the registry goes away first.
  std::unique_ptr<pipeline::StoreRegistry> registry = std::make_unique<pipeline::StoreRegistry>();
};

struct BackendKind {
  std::string name;  // for test names: "file", "file_userspace", "http", "https"
  std::function<std::unique_ptr<StoreBackend>(const pipeline::StoreOptions&)> make;
};

// file:// with the kernel's openat2 enforcement, file:// with the user-space fallback,
// http:// against nginx, and https:// against nginx with a test CA's certificate.
std::vector<BackendKind> AllBackendKinds();

// An outbound allowlist (--http-allow) of 127.0.0.1 at `port`, or at any port for 0: the
// loopback servers store tests start. No own endpoint: no daemon is involved.
std::shared_ptr<const pipeline::HttpAllowlist> AllowLoopbackPort(uint16_t port = 0);

// Writes `data` to `path`, creating parent directories; aborts the test on failure.
void WriteFileForTest(const std::filesystem::path& path, pipeline::ByteView data);

// Deterministic bytes for a key: `size` bytes derived from `seed`.
pipeline::Bytes TestBytes(size_t size, uint32_t seed);

// Keys "0" .. "count-1", each written under `dir` as TestBytes(size, i).
std::vector<std::string> SeedNumberedKeys(const std::filesystem::path& dir, int count, size_t size);

// Reads what SeedNumberedKeys wrote through `store` with one GetMany of `in_flight` and expects
// every key's bytes (failures are the test's).
void ExpectNumberedKeysRead(pipeline::ChunkStore& store, const std::vector<std::string>& keys,
                            int in_flight, size_t size);

// Every file under `dir` (recursively) whose name is a store temp file.
std::vector<std::filesystem::path> TempFilesUnder(const std::filesystem::path& dir);

}  // namespace batchd::testing
