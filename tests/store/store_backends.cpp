#include "tests/store/store_backends.h"

#include <gtest/gtest.h>

#include <fstream>

#include "pipeline/stores/atomic_file_write.h"
#include "pipeline/stores/file_store.h"
#include "tests/store/read_collector.h"
#include "tests/support/nginx_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"

namespace batchd::testing {
namespace {

namespace fs = std::filesystem;
using pipeline::FileRoots;

class FileBackend : public StoreBackend {
 public:
  FileBackend(const pipeline::StoreOptions& base, FileRoots::Enforcement enforcement) {
    pipeline::StoreOptions options = base;
    options.file_roots = {dir_.path()};
    pipeline::RegisterBuiltinStores(*registry, options);
    if (enforcement == FileRoots::Enforcement::kUserSpace) {
      // Same store, roots enforced the way a kernel without openat2 gets them.
      auto roots = FileRoots::Open(options.file_roots, enforcement);
      auto io = std::make_shared<pipeline::IoThreadPool>(options.file_io_threads, 1024);
      if (!roots.ok()) error_ = roots.status().ToString();
      registry->Register(
          "file",
          [roots = roots.ok() ? *roots : nullptr,
           io](const std::string& url) -> Result<std::shared_ptr<pipeline::ChunkStore>> {
            return pipeline::OpenFileStore(url, roots, io);
          });
    }
  }
  std::string StartError() const override { return error_; }
  std::string ArrayUrl(const std::string& array) const override {
    return "file://" + (dir_.path() / array).string();
  }
  fs::path ArrayDir(const std::string& array) const override { return dir_.path() / array; }

 private:
  TempDir dir_;
  std::string error_;
};

// Made once per test binary: every https backend's nginx serves the same certificate.
const Result<std::unique_ptr<TestCertificates>>& SharedCertificates() {
  static const auto* certs =
      new Result<std::unique_ptr<TestCertificates>>(TestCertificates::Make());
  return *certs;
}

class HttpBackend : public StoreBackend {
 public:
  // `https`: nginx over TLS with a certificate of a test CA the registry trusts (--ca-file).
  HttpBackend(const pipeline::StoreOptions& options, bool https) {
    NginxOptions nginx;
    nginx.document_root = dir_.path() / "root";
    pipeline::StoreOptions with_ca = options;
    if (https) {
      const auto& certs = SharedCertificates();
      if (!certs.ok()) {
        error_ = certs.status().ToString();
        return;
      }
      nginx.tls = NginxTls{.cert = (*certs)->valid().cert, .key = (*certs)->valid().key};
      if (with_ca.http_ca_file.empty()) with_ca.http_ca_file = (*certs)->ca_cert().string();
    }
    auto server = NginxServer::Start(nginx);
    if (!server.ok()) {
      error_ = server.status().ToString();
      return;
    }
    server_ = std::move(*server);
    pipeline::StoreOptions with_allowlist = with_ca;
    if (!with_allowlist.http_allowlist) {
      with_allowlist.http_allowlist = AllowLoopbackPort(server_->port());
    }
    pipeline::RegisterBuiltinStores(*registry, with_allowlist);
  }
  std::string StartError() const override { return error_; }
  std::string ArrayUrl(const std::string& array) const override {
    return server_ ? server_->Url("/" + array) : "http://127.0.0.1:1/" + array;
  }
  fs::path ArrayDir(const std::string& array) const override {
    return dir_.path() / "root" / array;
  }

 private:
  TempDir dir_;
  std::unique_ptr<NginxServer> server_;
  std::string error_;
};

}  // namespace

std::vector<BackendKind> AllBackendKinds() {
  return {
      {"file",
       [](const pipeline::StoreOptions& o) {
         return std::make_unique<FileBackend>(o, FileRoots::Enforcement::kKernel);
       }},
      {"file_userspace",
       [](const pipeline::StoreOptions& o) {
         return std::make_unique<FileBackend>(o, FileRoots::Enforcement::kUserSpace);
       }},
      {"http",
       [](const pipeline::StoreOptions& o) { return std::make_unique<HttpBackend>(o, false); }},
      {"https",
       [](const pipeline::StoreOptions& o) { return std::make_unique<HttpBackend>(o, true); }},
  };
}

std::shared_ptr<const pipeline::HttpAllowlist> AllowLoopbackPort(uint16_t port) {
  auto allowlist = pipeline::HttpAllowlist::Create(
      {port == 0 ? "127.0.0.1" : "127.0.0.1:" + std::to_string(port)});
  if (!allowlist.ok()) {
    ADD_FAILURE() << allowlist.status().ToString();
    std::abort();
  }
  return *allowlist;
}

void WriteFileForTest(const fs::path& path, pipeline::ByteView data) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    ADD_FAILURE() << "cannot write " << path;
    std::abort();
  }
}

pipeline::Bytes TestBytes(size_t size, uint32_t seed) {
  pipeline::Bytes out(size);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<uint8_t>(x);
  }
  return out;
}

std::vector<std::string> SeedNumberedKeys(const fs::path& dir, int count, size_t size) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) {
    keys.push_back(std::to_string(i));
    WriteFileForTest(dir / keys.back(), TestBytes(size, i));
  }
  return keys;
}

void ExpectNumberedKeysRead(pipeline::ChunkStore& store, const std::vector<std::string>& keys,
                            int in_flight, size_t size) {
  ReadCollector reads(keys.size());
  store.GetMany(keys, in_flight, nullptr, reads.Callback());
  ASSERT_TRUE(reads.WaitAll());
  EXPECT_EQ(reads.ExactlyOnceViolations(), "");
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& r = reads.result(i);
    ASSERT_TRUE(r.ok()) << "key " << keys[i] << ": " << r.status().ToString();
    ASSERT_TRUE(r->has_value()) << "key " << keys[i];
    EXPECT_EQ(**r, TestBytes(size, i)) << "key " << keys[i];
  }
}

std::vector<fs::path> TempFilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (pipeline::IsTempFileName(entry.path().filename().string())) out.push_back(entry.path());
  }
  return out;
}

}  // namespace batchd::testing
