// The http:// and https:// chunk store: GET reads a key, PUT writes it, through the registry's
// HttpClient (http_client.h: keep-alive pool per host, retries with backoff and Retry-After,
// timeouts, TLS with certificate and host name verification).
//
// URL: http://host[:port]/path/to/array or https://... (port 80 or 443 by default; no user
// info, query or fragment). A key becomes the URL path "<array path>/<key>", each byte outside
// A-Z a-z 0-9 - . _ ~ and "/" percent-encoded. The host and port must pass the registry's
// HttpAllowlist (--http-allow, the same for both schemes; never the daemon's own endpoint):
// checked when the store is opened, and for every address a name resolves to when the client
// connects.
//
// Answers, after the client's retries:
//   GET 200 -> the bytes; 404 or 410 -> nullopt (missing: it reads as the fill value);
//   PUT 200, 201, 204 -> OK;
//   5xx, 408, 429, timeouts and connection errors -> kUnavailable naming the URL, the last
//   status or error, and the number of attempts (a later session retry may succeed);
//   a certificate that fails verification, or another TLS refusal -> kFailedPrecondition
//   naming the URL, the host and the reason (http_client.h);
//   any other status (3xx: redirects are not followed, 400, 401, 403, 405, 413, ...) ->
//   kFailedPrecondition naming the URL and the status: the server refuses the request, and
//   asking again will not change that until someone fixes the server or the URL.
// Messages name the method, the URL and the status code with its standard reason phrase; never
// the server's reason phrase, its body or its size.
// GetMany keeps min(max_in_flight, limits.max_in_flight) requests in flight; every callback
// runs on an HTTP client thread.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_allowlist.h"
#include "pipeline/stores/http_client.h"

namespace batchd::pipeline {

struct HttpStoreLimits {
  int max_in_flight = 64;  // requests in flight per GetMany, whatever it asks for
  // What DefaultFetchConcurrency says: the reads in flight of a job that sets no
  // limits.fetch_concurrency, few enough for a small server (python3 -m http.server).
  int default_fetch_concurrency = 8;
};

// kInvalidArgument naming the URL if it is not a valid http:// or https:// URL or `allowlist`
// refuses its host and port (null refuses every one); kUnavailable while the daemon's own port
// is not known yet (HttpAllowlist::SetOwnEndpoint). No I/O: a server that is down (or a bad
// certificate) shows in the first read or write.
Result<std::shared_ptr<ChunkStore>> OpenHttpStore(const std::string& url,
                                                  std::shared_ptr<HttpClient> client,
                                                  const HttpStoreLimits& limits,
                                                  const HttpAllowlist* allowlist);

}  // namespace batchd::pipeline
