// The HTTP/1.1 client behind http:// and https:// chunk stores (Boost.Beast, Asio's SSL
// streams and OpenSSL inside http_client.cpp only).
//
// One client per store registry: its own io_context on 1-2 threads, and per scheme, host and
// port a pool of keep-alive connections, which bounds the requests in flight to that host;
// further requests wait (FIFO) for a connection. A pool starts with at most
// `initial_connections_per_host` connections and may open one more, up to
// `max_connections_per_host`, for each answer after which the server keeps its connection
// open: a server that closes every connection (HTTP/1.0, `python3 -m http.server`) keeps the
// initial few, which its listen backlog takes without dropping a connection attempt (a
// dropped SYN waits the kernel's 1 s retransmit).
//
// https: the server's certificate chain is verified against the system's CA store (or only
// against `ca_file`), and its name against the URL's host (a DNS name, or an IP address
// literal against the certificate's IP addresses); the name is sent as SNI. A certificate that
// fails ends the request at once, without retries, with kFailedPrecondition naming the URL, the
// host and OpenSSL's reason ("certificate verify failed: certificate has expired"): asking
// again gets the same certificate. So does any other TLS handshake failure (a plain-http
// server on that port, no common protocol version); a connection that breaks during the
// handshake is a connection error like any other.
//
// A request is retried up to `retries` times when the answer is 5xx, 408 or 429, on a timeout,
// and on a connection error (refused, reset, closed): after an exponential backoff (delay
// retry_base_ms * 2^(n-1), with jitter in its upper half), or after the answer's Retry-After
// (delta-seconds form) if that is longer, waiting at most max_retry_after_ms for it. A request
// that fails on a reused keep-alive connection before any byte of the answer arrives (the
// server closed an idle connection) is sent again at once on a new connection, without
// counting as a retry. Redirects are not followed: a 3xx is an answer like any other, so no
// server can send a request on to a host the store was not opened on.
//
// Lifetime: a request in flight keeps the client alive, so every callback runs exactly once
// even if every other owner dropped the client; the client stops its threads when the last
// owner (possibly a callback on one of those threads) lets go. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/engine/cancel_token.h"

namespace batchd::pipeline {

struct HttpClientOptions {
  int max_connections_per_host = 64;
  int initial_connections_per_host = 4;  // clamped to [1, max_connections_per_host]
  int retries = 3;
  int retry_base_ms = 50;
  // The longest a Retry-After header makes a request wait before its next attempt; a longer one
  // waits this long.
  int max_retry_after_ms = 30'000;
  int timeout_ms = 30'000;  // per attempt: connect, send and receive
  int threads = 2;
  // Asked before each new connection about every address it may use (numeric: "127.0.0.1",
  // "::1"; for a name, each address it resolves to) and the port. A refused address is not
  // connected to; a request left with none ends at once, without retries, with the first
  // refusal's Status (prefixed with the method and URL). Empty: every address may be used.
  std::function<Status(const std::string& address, uint16_t port)> check_address;
  // https: a PEM file of the CAs to trust instead of the system's (a private CA). Every https
  // request ends with kFailedPrecondition naming the file if it cannot be loaded (check it
  // first with CheckCaFile).
  std::string ca_file;
};

// Ok if `path` is a PEM file holding at least one CA certificate OpenSSL can load; otherwise
// kInvalidArgument naming the file and OpenSSL's reason.
Status CheckCaFile(const std::string& path);

struct HttpRequest {
  enum class Method { kGet, kPut };
  Method method = Method::kGet;
  bool https = false;  // TLS, verified as the header says
  std::string host;
  uint16_t port = 80;
  std::string target;  // origin-form, already percent-encoded: "/a.zarr/t2m/0.0"
  // Sent as given, after Host and User-Agent (s3://: x-amz-*, Authorization). They never
  // appear in messages: they may carry credentials.
  std::vector<std::pair<std::string, std::string>> headers;
  Bytes body;  // PUT only
  // GET only: a Range header's value ("bytes=0-99", "bytes=-16"); empty: the whole value.
  std::string range;
  // A response body larger than this (by its Content-Length, or counted while it arrives) ends
  // the request with kCorrupt at once, without retries and without reading the rest.
  uint64_t max_response_bytes = uint64_t{1} << 31;
  // If canceled, a request waiting for a retry ends with kUnavailable("canceled").
  std::shared_ptr<CancelToken> cancel;
};

struct HttpResponse {
  int status = 0;
  std::string status_text;  // "404 Not Found"
  Bytes body;
  std::string content_range;  // the Content-Range header of a 206 (or 416), "" if none
  int attempts = 1;           // how many times the request was sent (retries + 1)
};

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  using Callback = std::function<void(Result<HttpResponse>)>;

  static std::shared_ptr<HttpClient> Create(const HttpClientOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and calls `done` exactly once on a client thread with the final response
  // (any status: a 5xx only once retries are exhausted), or kUnavailable naming the URL, the
  // last error and the attempts when no response came (connection refused, timeout, ...).
  // Returns at once.
  void Send(HttpRequest request, Callback done);

  // Runs `task` once on a client thread.
  void Post(std::function<void()> task);

  // "http://host:port" (or "https://host:port") + target, for messages.
  static std::string Url(const HttpRequest& request);

  // The Host header the client sends for `request` (what a signer must sign): "host:port",
  // "[v6]:port", without the port when it is the scheme's default (80, 443).
  static std::string HostHeader(const HttpRequest& request);

  const HttpClientOptions& options() const { return options_; }

  struct Impl;  // Beast and Asio live in http_client.cpp

 private:
  explicit HttpClient(const HttpClientOptions& options);

  const HttpClientOptions options_;
  // The io_context, its threads and the pools; shared with the threads, so that one destroying
  // the client from inside a callback can finish its handler and exit after ~HttpClient.
  std::shared_ptr<Impl> impl_;
};

}  // namespace batchd::pipeline
