#include "tests/support/s3rver_server.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/command.h"
#include "tests/support/loopback_socket.h"

namespace batchd::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(20);
// The picked port may be taken by another test's server before s3rver binds it: pick again.
constexpr int kStartAttempts = 5;

Status EnsureNodeModules() {
  const std::filesystem::path dir = S3TestsDir();
  if (std::filesystem::exists(dir / "node_modules" / "@20minutes" / "s3rver" / "package.json")) {
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(CommandOutput npm,
                   RunCommand({"npm", "ci", "--prefix", dir.string(), "--no-audit", "--no-fund"},
                              std::chrono::minutes(5)));
  if (npm.exit_code != 0) {
    return Status::FailedPrecondition("npm ci in " + dir.string() + " failed:\n" + npm.err);
  }
  return Status::Ok();
}

}  // namespace

std::filesystem::path S3TestsDir() {
  return std::filesystem::path(BATCHD_SOURCE_DIR) / "tests" / "s3";
}

std::string S3rverServer::Endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

Result<std::unique_ptr<S3rverServer>> S3rverServer::Start(S3rverOptions options) {
  RETURN_IF_ERROR(EnsureNodeModules());
  std::unique_ptr<S3rverServer> server(new S3rverServer(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(server->work_dir_.path() / "data", ec);
  if (ec) return Status::IoError("cannot create the s3rver dir: " + ec.message());
  Status last;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    ASSIGN_OR_RETURN(server->port_, PickFreePort());
    RETURN_IF_ERROR(server->Spawn());
    last = server->WaitUntilAnswering();
    if (last.ok()) return server;
    (void)server->Stop();
    if (server->LogTail().find("EADDRINUSE") == std::string::npos) break;
  }
  return last;
}

Status S3rverServer::Spawn() {
  const std::string work = work_dir_.path().string();
  std::vector<std::string> args = {"/usr/bin/env",
                                   "node",
                                   (S3TestsDir() / "s3rver_main.js").string(),
                                   work + "/data",
                                   std::to_string(port_),
                                   options_.access_key_id,
                                   options_.secret_access_key,
                                   AccessLogPath().string()};
  for (const std::string& bucket : options_.buckets) args.push_back(bucket);
  ASSIGN_OR_RETURN(pid_, SpawnChild(std::move(args), work + "/s3rver.log"));
  return Status::Ok();
}

Status S3rverServer::WaitUntilAnswering() {
  auto deadline = Clock::now() + options_.start_timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("s3rver exited at start:\n" + LogTail());
    }
    // Listening, and the buckets made: the launcher prints its line after both.
    if (LogTail().find("s3rver listening on") != std::string::npos &&
        LoopbackSocket::Connect(port_, kPollInterval * 10).ok()) {
      return Status::Ok();
    }
    if (Clock::now() >= deadline) {
      return Status::Unavailable("s3rver did not answer on port " + std::to_string(port_) +
                                 " within " + std::to_string(options_.start_timeout.count()) +
                                 " ms:\n" + LogTail());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status S3rverServer::Stop() { return StopChild(pid_, options_.stop_timeout, "s3rver"); }

std::filesystem::path S3rverServer::AccessLogPath() const {
  return work_dir_.path() / "access.log";
}

std::string S3rverServer::LogTail(size_t max_bytes) const {
  std::ifstream in(work_dir_.path() / "s3rver.log", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

S3rverServer::~S3rverServer() { (void)Stop(); }

std::filesystem::path S3rverServer::ObjectPath(const std::filesystem::path& bucket_dir,
                                               const std::string& key) {
  const std::filesystem::path relative(key);
  return bucket_dir / relative.parent_path() / (relative.filename().string() + "._S3rver_object");
}

Status RunS3Client(const S3rverServer& server, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kSystemPython, (S3TestsDir() / "s3_client.py").string(),
                                   server.Endpoint(), server.options().access_key_id,
                                   server.options().secret_access_key};
  argv.insert(argv.end(), args.begin(), args.end());
  ASSIGN_OR_RETURN(CommandOutput out, RunCommand(argv));
  if (out.exit_code != 0) {
    return Status::IoError("s3_client.py " + args.at(0) +
                           " failed (is python3-boto3 installed? "
                           "scripts/install-deps.sh installs it):\n" +
                           out.err);
  }
  return Status::Ok();
}

}  // namespace batchd::testing
