#include "tests/support/nginx_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/loopback_socket.h"

namespace batchd::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);
// nginx may lose the race for the port we picked to another test's server: pick again.
constexpr int kStartAttempts = 5;
constexpr int kFailingStatuses[] = {403, 500, 503};

}  // namespace

std::string NginxServer::FailingPrefix(int status) {
  return "/status/" + std::to_string(status) + "/";
}

std::filesystem::path NginxServer::AccessLogPath() const { return work_dir_.path() / "access.log"; }

std::string NginxServer::Url(std::string_view path, std::string_view host) const {
  return std::string(options_.tls ? "https://" : "http://") + std::string(host) + ":" +
         std::to_string(port_) + std::string(path);
}

Result<std::unique_ptr<NginxServer>> NginxServer::Start(NginxOptions options) {
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition(options.binary.string() +
                                      " is missing: install nginx (scripts/install-deps.sh)");
  }
  std::unique_ptr<NginxServer> server(new NginxServer(std::move(options)));
  server->document_root_ = server->options_.document_root.empty()
                               ? server->work_dir_.path() / "root"
                               : server->options_.document_root;
  std::error_code ec;
  std::filesystem::create_directories(server->document_root_, ec);
  std::filesystem::create_directories(server->work_dir_.path() / "tmp", ec);
  if (ec) return Status::IoError("cannot create nginx dirs: " + ec.message());

  Status last;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    ASSIGN_OR_RETURN(server->port_, PickFreePort());
    RETURN_IF_ERROR(server->WriteConfig());
    RETURN_IF_ERROR(server->Spawn());
    last = server->WaitUntilAnswering();
    if (last.ok()) return server;
    (void)server->Stop();
    if (server->ErrorLogTail().find("Address already in use") == std::string::npos) break;
  }
  return last;
}

Status NginxServer::WriteConfig() {
  const std::string work = work_dir_.path().string();
  std::ostringstream conf;
  conf << "daemon off;\n"
       << "master_process off;\n"  // one process, our own user: see the header
       << "pid " << work << "/nginx.pid;\n"
       << "error_log " << work << "/error.log " << options_.error_log_level << ";\n"
       << "events { worker_connections 4096; }\n"
       << "http {\n";
  if (options_.access_log) {
    // One line per request, flushed at once: tests count what batchd read.
    conf << "  log_format requests '$request_method $uri $status"
         << (options_.log_connection ? " $connection" : "") << "';\n"
         << "  access_log " << AccessLogPath().string() << " requests;\n";
  } else {
    conf << "  access_log off;\n";
  }
  conf << "  default_type application/octet-stream;\n"
       << "  client_max_body_size 0;\n"
       << "  keepalive_requests 100000;\n"
       << "  sendfile on;\n";
  for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    conf << "  " << kind << "_temp_path " << work << "/tmp/" << kind << ";\n";
  }
  // One server block per certificate, the same content behind each.
  auto server = [&](const std::filesystem::path* cert, const std::filesystem::path* key,
                    const std::string& name) {
    conf << "  server {\n"
         << "    listen 127.0.0.1:" << port_ << (cert ? " ssl" : "")
         << (name.empty() ? " default_server" : "") << ";\n";
    if (!name.empty()) conf << "    server_name " << name << ";\n";
    if (cert) {
      conf << "    ssl_certificate " << cert->string() << ";\n"
           << "    ssl_certificate_key " << key->string() << ";\n";
    }
    conf << "    root " << document_root_.string() << ";\n"
         << "    location / {\n";
    if (options_.allow_put) {
      conf << "      dav_methods PUT;\n"
           << "      create_full_put_path on;\n"
           << "      dav_access user:rw group:r all:r;\n";
    }
    conf << "    }\n";
    for (int status : kFailingStatuses) {
      conf << "    location " << FailingPrefix(status) << " { return " << status << "; }\n";
    }
    conf << "  }\n";
  };
  if (!options_.tls) {
    server(nullptr, nullptr, "");
  } else {
    server(&options_.tls->cert, &options_.tls->key, "");
    if (!options_.tls->sni_name.empty()) {
      server(&options_.tls->sni_cert, &options_.tls->sni_key, options_.tls->sni_name);
    }
  }
  conf << "}\n";
  std::ofstream out(work_dir_.path() / "nginx.conf", std::ios::trunc);
  out << conf.str();
  out.close();
  if (!out) return Status::IoError("cannot write " + work + "/nginx.conf");
  return Status::Ok();
}

Status NginxServer::Spawn() {
  const std::string work = work_dir_.path().string();
  std::vector<std::string> args = {options_.binary.string(), "-p", work + "/",         "-c",
                                   work + "/nginx.conf",     "-e", work + "/error.log"};
  ASSIGN_OR_RETURN(pid_, SpawnChild(std::move(args), work + "/stderr.log"));
  return Status::Ok();
}

Status NginxServer::WaitUntilAnswering() {
  auto deadline = Clock::now() + options_.start_timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("nginx exited at start:\n" + ErrorLogTail());
    }
    if (LoopbackSocket::Connect(port_, kPollInterval * 10).ok()) return Status::Ok();
    if (Clock::now() >= deadline) {
      return Status::Unavailable("nginx did not answer on port " + std::to_string(port_) +
                                 " within " + std::to_string(options_.start_timeout.count()) +
                                 " ms:\n" + ErrorLogTail());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status NginxServer::Stop() { return StopChild(pid_, options_.stop_timeout, "nginx"); }

Status NginxServer::Restart() {
  RETURN_IF_ERROR(Stop());
  RETURN_IF_ERROR(Spawn());
  return WaitUntilAnswering();
}

std::string NginxServer::ErrorLogTail(size_t max_bytes) const {
  std::string text;
  for (const char* name : {"error.log", "stderr.log"}) {
    std::ifstream in(work_dir_.path() / name, std::ios::binary);
    text.append((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text.empty() ? "(nginx logged nothing)" : text;
}

int NginxServer::CountErrorLogLines(std::string_view text) const {
  std::ifstream in(work_dir_.path() / "error.log");
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(text) != std::string::npos) ++count;
  }
  return count;
}

NginxServer::~NginxServer() { (void)Stop(); }

}  // namespace batchd::testing
