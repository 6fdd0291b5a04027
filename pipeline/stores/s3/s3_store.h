// The s3:// chunk store: objects of an S3 bucket (AWS, or an S3-compatible service such as
// MinIO, Ceph, R2 or s3rver with --s3-endpoint) read with GET and written with PUT, signed with
// SigV4 (sigv4_signer.h) or unsigned (anonymous), through the registry's HttpClient (keep-alive
// pools, retries with backoff and Retry-After, timeouts, TLS verification).
//
// URL: s3://bucket[/prefix] (no port, user info, query or fragment; the prefix may be
// percent-encoded). Key "0.0" of s3://b/a.zarr/t2m is the object "a.zarr/t2m/0.0" of bucket b.
// Addressing: with an endpoint (http(s)://host[:port]), path-style: <endpoint>/b/a.zarr/t2m/0.0.
// Without one, AWS: https://b.s3.<region>.amazonaws.com/a.zarr/t2m/0.0 (virtual-hosted), or
// path-style on https://s3.<region>.amazonaws.com for a bucket name with dots or capitals
// (no certificate covers them as a host name). The host and port must pass the registry's
// HttpAllowlist (--http-allow), as for http(s):// stores.
//
// Answers, after the client's retries:
//   GET 200 -> the bytes; 404 -> nullopt (missing: reads as the fill value), except 404
//   NoSuchBucket -> kFailedPrecondition naming the bucket; PUT 200 -> OK;
//   GetRanges: one signed Range GET per merged read (range_reads.h): 206 -> the part, checked
//   against its Content-Range; 200 (the whole object) -> cut; 416 or a part short of the
//   range -> kCorrupt naming the key and the object's size; 404 as for GET;
//   5xx (503 SlowDown), 408, 429, timeouts, connection errors -> kUnavailable (transient);
//   403 and every other status -> kFailedPrecondition (permanent) naming the key as
//   s3://bucket/prefix/key, the status ("403 Forbidden") and S3's error code from the body
//   ("SignatureDoesNotMatch", "AccessDenied", ...; only [A-Za-z0-9.] codes are quoted).
// No message, log line or URL carries the secret key, the session token or a signature: they
// travel in request headers only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/http_allowlist.h"
#include "pipeline/stores/http_client.h"
#include "pipeline/stores/s3/sigv4_signer.h"

namespace batchd::pipeline {

// What every s3:// store of a registry shares (`batchd serve --s3-*` flags).
struct S3Settings {
  // "http://host[:port]" or "https://host[:port]" of an S3-compatible service (path-style);
  // empty: AWS's regional endpoint.
  std::string endpoint;
  std::string region = "us-east-1";
  std::optional<SigV4Credentials> credentials;  // nullopt: anonymous (unsigned requests)
};

// Ok if `endpoint` is "http(s)://host[:port]" with at most "/" as path; otherwise
// kInvalidArgument saying what is wrong (for --s3-endpoint).
Status CheckS3Endpoint(const std::string& endpoint);

struct S3StoreLimits {
  int max_in_flight = 64;             // requests in flight per GetMany at most
  int default_fetch_concurrency = 8;  // DefaultFetchConcurrency, as for http(s)://
};

// kInvalidArgument naming the URL if it is not a valid s3:// URL, `settings.endpoint` is bad, or
// `allowlist` refuses the endpoint's host and port (null refuses every one); kUnavailable while
// the daemon's own port is not known yet. No I/O: a bucket that does not exist or keys that do
// not fit show in the first read or write.
Result<std::shared_ptr<ChunkStore>> OpenS3Store(const std::string& url,
                                                std::shared_ptr<HttpClient> client,
                                                std::shared_ptr<const S3Settings> settings,
                                                const S3StoreLimits& limits,
                                                const HttpAllowlist* allowlist);

// RegisterBuiltinStores (chunk_store.h) with the settings of its s3:// stores; the two-argument
// form registers s3:// too, with null settings: AWS's endpoint, us-east-1, anonymous. The
// endpoint must pass options.http_allowlist, and s3:// requests share the http(s):// client,
// its limits and its retries.
void RegisterBuiltinStores(StoreRegistry& registry, const StoreOptions& options,
                           std::shared_ptr<const S3Settings> s3);

}  // namespace batchd::pipeline
