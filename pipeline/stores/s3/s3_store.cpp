// The s3:// store (s3_store.h): request building and signing, and what S3's answers mean.
#include "pipeline/stores/s3/s3_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "pipeline/stores/chained_reads.h"
#include "pipeline/stores/range_reads.h"
#include "pipeline/stores/store_key.h"
#include "pipeline/stores/store_url.h"

namespace batchd::pipeline {
namespace {

Status BadUrl(const std::string& url, std::string_view why) {
  return Status::InvalidArgument("store URL \"" + url + "\" " + std::string(why));
}

// S3's bucket naming rules, loosened to what S3-compatible services accept as well (capitals
// and "_" of legacy buckets); a name that is not one never reaches a request line.
bool IsBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

// Usable as a DNS label under s3.<region>.amazonaws.com, with a certificate that covers it.
bool IsVirtualHostable(std::string_view bucket) {
  return std::all_of(
             bucket.begin(), bucket.end(),
             [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }) &&
         bucket.front() != '-' && bucket.back() != '-';
}

// S3's error code from an XML error body ("<Code>SlowDown</Code>"), if it looks like one; the
// rest of the body (messages, the StringToSign) is the server's text and stays out of errors.
std::string ErrorCode(const Bytes& body) {
  const std::string_view text(reinterpret_cast<const char*>(body.data()),
                              std::min<size_t>(body.size(), 4096));
  const size_t open = text.find("<Code>");
  if (open == std::string_view::npos) return "";
  const size_t start = open + 6;
  const size_t close = text.find("</Code>", start);
  if (close == std::string_view::npos || close - start > 64 || close == start) return "";
  const std::string_view code = text.substr(start, close - start);
  const bool plain = std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
  });
  return plain ? std::string(code) : "";
}

struct Endpoint {
  bool https = true;
  std::string host;
  uint16_t port = 443;
};

Result<Endpoint> ParseEndpoint(const std::string& endpoint) {
  Result<StoreUrl> parsed = ParseStoreUrl(endpoint);
  if (!parsed.ok()) {
    return Status::InvalidArgument("--s3-endpoint \"" + endpoint +
                                   "\" is not a URL: " + parsed.status().message());
  }
  if (parsed->scheme != "http" && parsed->scheme != "https") {
    return Status::InvalidArgument("--s3-endpoint \"" + endpoint +
                                   "\" must be an http:// or https:// URL");
  }
  if (parsed->host.empty()) {
    return Status::InvalidArgument("--s3-endpoint \"" + endpoint + "\" has no host");
  }
  if (!parsed->path.empty() && parsed->path != "/") {
    return Status::InvalidArgument("--s3-endpoint \"" + endpoint +
                                   "\" must not have a path (buckets are addressed path-style "
                                   "under it: http://host:port/bucket/key)");
  }
  Endpoint out;
  out.https = parsed->scheme == "https";
  out.host = parsed->host;
  out.port = parsed->port != 0 ? parsed->port : out.https ? 443 : 80;
  return out;
}

// What every request of one store needs; shared by the store and its work in flight.
struct S3Location {
  std::string url;  // as opened, for url() and messages: "s3://bucket/prefix"
  std::shared_ptr<HttpClient> client;
  std::shared_ptr<const S3Settings> settings;
  Endpoint endpoint;
  std::string bucket;
  // The decoded path of the array's objects with a trailing "/": "/bucket/a.zarr/t2m/"
  // (path-style) or "/a.zarr/t2m/" (virtual-hosted).
  std::string path_prefix;
  std::string key_prefix;  // "s3://bucket/a.zarr/t2m/", for messages
  int max_in_flight = 64;
  int default_fetch_concurrency = 8;
  mutable std::atomic<uint64_t> max_value_bytes{UINT64_MAX};

  std::string KeyUrl(std::string_view key) const { return key_prefix + std::string(key); }

  HttpRequest MakeRequest(HttpRequest::Method method, std::string_view key, Bytes body,
                          const ByteRange* range) const {
    HttpRequest request;
    request.method = method;
    request.max_response_bytes = std::min<uint64_t>(
        request.max_response_bytes, max_value_bytes.load(std::memory_order_relaxed));
    request.https = endpoint.https;
    request.host = endpoint.host;
    request.port = endpoint.port;
    const std::string path = path_prefix + std::string(key);
    request.target = UriEncode(path, false);
    if (range) {
      // A header (not request.range) so that it is signed with the others.
      request.headers.emplace_back("Range", HttpRangeHeader(*range));
      // A 206 holds the range; the value bound only limits a 200 with the whole value.
      request.max_response_bytes = std::max(request.max_response_bytes, range->length);
    }
    if (settings->credentials) {
      SigV4Request to_sign;
      to_sign.method = method == HttpRequest::Method::kGet ? "GET" : "PUT";
      to_sign.path = path;
      to_sign.headers = request.headers;
      to_sign.headers.emplace_back("Host", HttpClient::HostHeader(request));
      to_sign.payload_sha256 = Sha256Hex(ByteView(body));
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      SigV4Signature signature =
          SignV4(to_sign, *settings->credentials, {.region = settings->region, .service = "s3"},
                 AmzDate(now));
      for (auto& header : signature.headers) request.headers.push_back(std::move(header));
    }
    request.body = std::move(body);
    return request;
  }

  // Why a request was refused: the method, the key, the endpoint, the status and S3's code.
  Status Refused(const HttpResponse& response, std::string_view method,
                 std::string_view key) const {
    std::string where =
        std::string(method) + " " + KeyUrl(key) + " (" + (endpoint.https ? "https://" : "http://") +
        (endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host) +
        ":" + std::to_string(endpoint.port) + "): " + response.status_text;
    const std::string code = ErrorCode(response.body);
    if (!code.empty()) where += " (S3 error " + code + ")";
    if (response.status >= 500 || response.status == 408 || response.status == 429) {
      return Status::Unavailable(where + " after " + std::to_string(response.attempts) +
                                 " attempts");
    }
    if (response.status >= 300 && response.status < 400) {
      return Status::FailedPrecondition(where +
                                        " (redirects are not followed: is --s3-region "
                                        "the bucket's region?)");
    }
    if (response.status == 403 && !settings->credentials) {
      return Status::FailedPrecondition(where + " (anonymous: no credentials configured)");
    }
    return Status::FailedPrecondition(where);
  }

  // What a GET's answer other than the value says: 404 NoSuchKey -> nullopt (missing), 404
  // NoSuchBucket -> kFailedPrecondition naming the bucket, anything else refused (Refused).
  Result<std::optional<Bytes>> NotTheValue(const HttpResponse& response,
                                           std::string_view key) const {
    if (response.status == 404 && ErrorCode(response.body) == "NoSuchBucket") {
      return Status::FailedPrecondition("GET " + KeyUrl(key) + ": the bucket \"" + bucket +
                                        "\" does not exist (404 NoSuchBucket)");
    }
    if (response.status == 404) return std::optional<Bytes>();
    return Refused(response, "GET", key);
  }

  Result<std::optional<Bytes>> MapGet(Result<HttpResponse> result, std::string_view key) const {
    if (!result.ok()) return result.status();
    if (result->status == 200) return std::optional<Bytes>(std::move(result->body));
    return NotTheValue(*result, key);
  }

  // The bytes of `span` (one merged read of GetRanges) from its answer (MapRangeAnswer: 206,
  // 200, 416), or NotTheValue.
  Result<std::optional<Bytes>> MapRangeGet(Result<HttpResponse> result, const std::string& key,
                                           const ByteRange& span) const {
    if (!result.ok()) return result.status();
    std::optional<Result<Bytes>> part =
        MapRangeAnswer(*result, span, "key \"" + key + "\" of " + url);
    if (!part) return NotTheValue(*result, key);
    if (!part->ok()) return part->status();
    return std::optional<Bytes>(std::move(**part));
  }
};

class S3Store final : public ChunkStore {
 public:
  explicit S3Store(std::shared_ptr<const S3Location> location) : location_(std::move(location)) {}

  void LimitValueBytes(uint64_t max_bytes) override {
    location_->max_value_bytes.store(max_bytes, std::memory_order_relaxed);
  }

  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<CancelToken> cancel, ReadCallback on_read) override {
    const size_t chains = std::min(static_cast<size_t>(std::max(max_in_flight, 1)),
                                   static_cast<size_t>(std::max(location_->max_in_flight, 1)));
    StartChainedReads(
        std::move(keys), chains, std::move(cancel), std::move(on_read),
        [location = location_](const std::string& key, const std::shared_ptr<CancelToken>& cancel,
                               std::function<void(Result<std::optional<Bytes>>)> done) {
          HttpRequest request = location->MakeRequest(HttpRequest::Method::kGet, key, {}, nullptr);
          request.cancel = cancel;
          location->client->Send(std::move(request), [location, key, done = std::move(done)](
                                                         Result<HttpResponse> result) {
            done(location->MapGet(std::move(result), key));
          });
        },
        [client = location_->client](std::function<void()> task) {
          client->Post(std::move(task));
        });
  }

  void GetRanges(std::string key, std::vector<ByteRange> ranges,
                 std::shared_ptr<CancelToken> cancel, RangesCallback done) override {
    StartRangeReads(
        key, std::move(ranges), std::move(done),
        [location = location_, key, cancel = std::move(cancel)](
            const ByteRange& span, std::function<void(Result<std::optional<Bytes>>)> done) {
          HttpRequest request = location->MakeRequest(HttpRequest::Method::kGet, key, {}, &span);
          request.cancel = cancel;
          location->client->Send(std::move(request), [location, key, span, done = std::move(done)](
                                                         Result<HttpResponse> result) {
            done(location->MapRangeGet(std::move(result), key, span));
          });
        },
        [client = location_->client](std::function<void()> task) {
          client->Post(std::move(task));
        });
  }

  void Put(std::string key, Bytes data, WriteCallback done) override {
    if (Status valid = ValidateStoreKey(key); !valid.ok()) {
      location_->client->Post([done = std::move(done), valid] { done(valid); });
      return;
    }
    HttpRequest request =
        location_->MakeRequest(HttpRequest::Method::kPut, key, std::move(data), nullptr);
    location_->client->Send(
        std::move(request), [location = location_, key = std::move(key),
                             done = std::move(done)](Result<HttpResponse> result) {
          if (!result.ok()) return done(result.status());
          if (result->status == 200 || result->status == 201 || result->status == 204) {
            return done(Status::Ok());
          }
          done(location->Refused(*result, "PUT", key));
        });
  }

  int DefaultFetchConcurrency() const override { return location_->default_fetch_concurrency; }

  const std::string& url() const override { return location_->url; }

 private:
  std::shared_ptr<const S3Location> location_;
};

}  // namespace

Status CheckS3Endpoint(const std::string& endpoint) { return ParseEndpoint(endpoint).status(); }

Result<std::shared_ptr<ChunkStore>> OpenS3Store(const std::string& url,
                                                std::shared_ptr<HttpClient> client,
                                                std::shared_ptr<const S3Settings> settings,
                                                const S3StoreLimits& limits,
                                                const HttpAllowlist* allowlist) {
  ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  if (parsed.scheme != "s3") return BadUrl(url, "is not an s3:// URL");
  if (parsed.port != 0) {
    return BadUrl(url, "must not have a port (s3://bucket/prefix; the service is --s3-endpoint)");
  }
  if (!IsBucketName(parsed.host)) {
    return BadUrl(url, "has no valid bucket name (3 to 63 of a-z 0-9 . - _): s3://bucket/prefix");
  }
  Result<std::string> prefix = PercentDecode(parsed.path);
  if (!prefix.ok()) return BadUrl(url, "has a bad path: " + prefix.status().message());
  std::string object_prefix = *prefix;
  while (!object_prefix.empty() && object_prefix.front() == '/') object_prefix.erase(0, 1);
  if (!object_prefix.empty() && object_prefix.back() != '/') object_prefix.push_back('/');
  if (!object_prefix.empty()) {
    std::string_view without_slash(object_prefix.data(), object_prefix.size() - 1);
    if (Status valid = ValidateStoreKey(without_slash); !valid.ok()) {
      return BadUrl(url, "has a bad prefix: " + valid.message());
    }
  }
  if (!settings) settings = std::make_shared<S3Settings>();

  auto location = std::make_shared<S3Location>();
  location->url = url;
  location->client = std::move(client);
  location->settings = settings;
  location->bucket = parsed.host;
  location->key_prefix = "s3://" + parsed.host + "/" + object_prefix;
  if (!settings->endpoint.empty()) {
    Result<Endpoint> endpoint = ParseEndpoint(settings->endpoint);
    if (!endpoint.ok()) {
      return BadUrl(url, "cannot be opened: " + endpoint.status().message());
    }
    location->endpoint = *endpoint;
    location->path_prefix = "/" + parsed.host + "/" + object_prefix;
  } else if (IsVirtualHostable(parsed.host)) {
    location->endpoint = {true, parsed.host + ".s3." + settings->region + ".amazonaws.com", 443};
    location->path_prefix = "/" + object_prefix;
  } else {
    location->endpoint = {true, "s3." + settings->region + ".amazonaws.com", 443};
    location->path_prefix = "/" + parsed.host + "/" + object_prefix;
  }
  const Status allowed =
      allowlist != nullptr
          ? allowlist->CheckHost(location->endpoint.host, location->endpoint.port)
          : Status::InvalidArgument("s3:// stores are disabled here (no outbound allowlist)");
  if (!allowed.ok()) {
    return Status(allowed.code(),
                  "store URL \"" + url + "\" is refused: its endpoint " + location->endpoint.host +
                      ":" + std::to_string(location->endpoint.port) + ": " + allowed.message());
  }
  location->max_in_flight = limits.max_in_flight;
  location->default_fetch_concurrency = limits.default_fetch_concurrency;
  return std::shared_ptr<ChunkStore>(std::make_shared<S3Store>(std::move(location)));
}

}  // namespace batchd::pipeline
