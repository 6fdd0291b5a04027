// Debian's nginx as a child process, for tests and benchmarks that need a real HTTP server:
// GET from a document root, PUT into it (WebDAV module: dav_methods PUT, create_full_put_path),
// and fixed failures on demand under FailingPrefix(status).
//
// Everything lives in a private work dir (config, logs, pid, temp files); nginx listens on
// 127.0.0.1 on a port picked at start. It runs as one process (master_process off, daemon off)
// with the test's own user, so PUT can write into a root-owned temp dir without a `user`
// directive, and one SIGTERM/SIGKILL ends it all. It is SIGKILLed by the kernel if the test
// process dies (PR_SET_PDEATHSIG), and stopped by the destructor.
//
// To serve an existing directory (a zarr array written by zarr-python, say), set
// NginxOptions::document_root; the URL of <root>/a.zarr is then Url("/a.zarr").
//
// With NginxOptions::tls it serves https instead (same root, same locations) with that
// certificate, and optionally a second one for clients that ask for `sni_name` by SNI
// (test_certificates.h makes them).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {

struct NginxTls {
  std::filesystem::path cert;  // PEM chain and key of the default server
  std::filesystem::path key;
  // If set: a server for this name (server_name) with its own certificate, which nginx picks
  // only when the client sent the name by SNI; every other client gets `cert`.
  std::string sni_name;
  std::filesystem::path sni_cert;
  std::filesystem::path sni_key;
};

struct NginxOptions {
  std::filesystem::path document_root;  // served directory; empty: a fresh "<work dir>/root"
  std::optional<NginxTls> tls;          // https instead of http
  bool allow_put = true;
  bool access_log = false;      // "METHOD URI STATUS" per request in AccessLogPath()
  bool log_connection = false;  // with access_log: " CONNECTION" (nginx's serial) appended
  // "info" logs each TLS handshake a client gave up ("... while SSL handshaking").
  std::string error_log_level = "warn";
  std::filesystem::path binary = "/usr/sbin/nginx";
  std::chrono::milliseconds start_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(10);
};

class NginxServer {
 public:
  // Writes the config, starts nginx and waits until it accepts connections. kFailedPrecondition
  // if the nginx binary is missing (install it with scripts/install-deps.sh); kUnavailable with
  // the tail of nginx's error log if it exits or does not answer in time.
  static Result<std::unique_ptr<NginxServer>> Start(NginxOptions options = {});

  ~NginxServer();  // Stop()
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://<host>:<port>" + path (path starts with "/"); https:// with NginxOptions::tls.
  std::string Url(std::string_view path, std::string_view host = "127.0.0.1") const;
  const std::filesystem::path& document_root() const { return document_root_; }
  std::filesystem::path AccessLogPath() const;
  bool running() const { return pid_ > 0; }

  // Every request under this URL path prefix is answered with `status` and an empty body:
  // FailingPrefix(503) == "/status/503/". Available for 403, 500 and 503.
  static std::string FailingPrefix(int status);

  // SIGTERM, then SIGKILL after options.stop_timeout. OK if it is already stopped.
  Status Stop();
  // Starts it again on the same port, with the same config (after Stop, to make a server
  // that went down come back).
  Status Restart();

  std::string ErrorLogTail(size_t max_bytes = 2000) const;
  // Lines of error.log containing `text`.
  int CountErrorLogLines(std::string_view text) const;

 private:
  explicit NginxServer(NginxOptions options) : options_(std::move(options)) {}
  Status WriteConfig();
  Status Spawn();
  Status WaitUntilAnswering();

  NginxOptions options_;
  TempDir work_dir_;
  std::filesystem::path document_root_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace batchd::testing
