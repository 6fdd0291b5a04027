// s3rver (npm @20minutes/s3rver, tests/s3) as a child process: a real S3-protocol server on a
// loopback port the test picks, verifying SigV4 signatures against one access key, with the
// buckets asked for. `npm ci` runs in tests/s3 first if its node_modules are missing. Suffix
// ranges ("bytes=-N") mean the last N bytes, as on AWS S3 (tests/s3/s3rver_main.js), and every
// request is logged (AccessLogPath) for tests that count them.
//
// Objects live in s3rver's own layout under a private dir: tests put and get them with an S3
// client (boto3, tests/s3/s3_client.py), or seed them at ObjectPath. The server is SIGKILLed by the
// kernel if the test process dies (PR_SET_PDEATHSIG) and stopped by the destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tests/support/temp_dir.h"

namespace batchd::testing {

struct S3rverOptions {
  std::string access_key_id = "BATCHDTESTKEY";
  std::string secret_access_key = "batchd/test+secret";
  std::vector<std::string> buckets = {"data"};
  std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(10);
};

class S3rverServer {
 public:
  // kFailedPrecondition if node is missing or npm ci fails (with its output); kUnavailable with
  // the server's log if it exits or does not answer in time.
  static Result<std::unique_ptr<S3rverServer>> Start(S3rverOptions options = {});

  ~S3rverServer();  // Stop()
  S3rverServer(const S3rverServer&) = delete;
  S3rverServer& operator=(const S3rverServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>": the --s3-endpoint.
  std::string Endpoint() const;
  const S3rverOptions& options() const { return options_; }
  // Where s3rver keeps bucket B's object K: DataDir()/B/K + "._S3rver_object" (metadata files
  // beside it are optional), so a test may seed objects without a client (ObjectPath).
  std::filesystem::path DataDir() const { return work_dir_.path() / "data"; }
  static std::filesystem::path ObjectPath(const std::filesystem::path& bucket_dir,
                                          const std::string& key);

  // One line per answered request, "METHOD URL STATUS RANGE" ("GET /data/a/c/0 206 bytes=-16";
  // RANGE "-" without a Range header); the URL as sent, percent-encoded. Written as each
  // answer is sent; absent until the first.
  std::filesystem::path AccessLogPath() const;

  // SIGTERM, then SIGKILL after options.stop_timeout. OK if it is already stopped.
  Status Stop();
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit S3rverServer(S3rverOptions options) : options_(std::move(options)) {}
  Status Spawn();
  Status WaitUntilAnswering();

  S3rverOptions options_;
  TempDir work_dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// tests/s3 in the repository (s3rver's package.json, the launcher, the boto3 client script).
std::filesystem::path S3TestsDir();

// Runs tests/s3/s3_client.py (boto3 against `server` with its key) with `args` after the
// endpoint and credentials: "upload-dir BUCKET PREFIX DIR", "download-dir BUCKET PREFIX DIR",
// "put BUCKET KEY FILE". Fails with its stderr.
Status RunS3Client(const S3rverServer& server, const std::vector<std::string>& args);

}  // namespace batchd::testing
