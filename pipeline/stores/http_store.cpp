#include "pipeline/stores/http_store.h"

#include <algorithm>
#include <atomic>

#include "pipeline/stores/chained_reads.h"
#include "pipeline/stores/range_reads.h"
#include "pipeline/stores/store_key.h"
#include "pipeline/stores/store_url.h"

namespace batchd::pipeline {
namespace {

// What every request of one store needs; shared by the store and its work in flight.
struct HttpLocation {
  std::string url;
  std::shared_ptr<HttpClient> client;
  bool https = false;
  std::string host;
  uint16_t port = 80;
  std::string prefix;  // the array's URL path with a trailing "/": "/a.zarr/t2m/"
  int max_in_flight = 64;
  int default_fetch_concurrency = 8;
  // ChunkStore::LimitValueBytes.
  mutable std::atomic<uint64_t> max_value_bytes{UINT64_MAX};

  HttpRequest MakeRequest(HttpRequest::Method method, std::string_view key) const {
    HttpRequest request;
    request.method = method;
    request.max_response_bytes = std::min<uint64_t>(
        request.max_response_bytes, max_value_bytes.load(std::memory_order_relaxed));
    request.https = https;
    request.host = host;
    request.port = port;
    request.target.reserve(prefix.size() + key.size() + 8);
    request.target = prefix;
    AppendPercentEncoded(key, request.target);
    return request;
  }

  static Status Refused(const HttpResponse& response, std::string_view method,
                        const std::string& target_url) {
    std::string where = std::string(method) + " " + target_url + ": " + response.status_text;
    if (response.status >= 500 || response.status == 408 || response.status == 429) {
      return Status::Unavailable(where + " (" + std::to_string(response.attempts) + " attempts)");
    }
    if (response.status >= 300 && response.status < 400) {
      return Status::FailedPrecondition(where + " (redirects are not followed)");
    }
    return Status::FailedPrecondition(where);
  }
};

Result<std::optional<Bytes>> MapGet(Result<HttpResponse> result, const HttpLocation& location,
                                    std::string_view key) {
  if (!result.ok()) return result.status();
  HttpResponse& response = *result;
  if (response.status == 200) return std::optional<Bytes>(std::move(response.body));
  if (response.status == 404 || response.status == 410) return std::optional<Bytes>();
  HttpRequest request = location.MakeRequest(HttpRequest::Method::kGet, key);
  return HttpLocation::Refused(response, "GET", HttpClient::Url(request));
}

// The bytes of one merged read (`span`) from its answer (MapRangeAnswer); 404 or 410: the key
// does not exist (nullopt); every other status is refused as a whole GET's is.
Result<std::optional<Bytes>> MapRangeGet(Result<HttpResponse> result, const HttpLocation& location,
                                         const std::string& key, const ByteRange& span) {
  if (!result.ok()) return result.status();
  HttpResponse& response = *result;
  if (response.status == 404 || response.status == 410) return std::optional<Bytes>();
  std::optional<Result<Bytes>> part =
      MapRangeAnswer(response, span, "key \"" + key + "\" of " + location.url);
  if (!part) {
    HttpRequest request = location.MakeRequest(HttpRequest::Method::kGet, key);
    return HttpLocation::Refused(response, "GET", HttpClient::Url(request));
  }
  if (!part->ok()) return part->status();
  return std::optional<Bytes>(std::move(**part));
}

class HttpStore final : public ChunkStore {
 public:
  explicit HttpStore(std::shared_ptr<const HttpLocation> location)
      : location_(std::move(location)) {}

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
          HttpRequest request = location->MakeRequest(HttpRequest::Method::kGet, key);
          request.cancel = cancel;
          location->client->Send(std::move(request), [location, key, done = std::move(done)](
                                                         Result<HttpResponse> result) {
            done(MapGet(std::move(result), *location, key));
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
          HttpRequest request = location->MakeRequest(HttpRequest::Method::kGet, key);
          request.range = HttpRangeHeader(span);
          // A 206 holds the span; the value bound only limits a 200 with the whole value.
          request.max_response_bytes = std::max(request.max_response_bytes, span.length);
          request.cancel = cancel;
          location->client->Send(std::move(request), [location, key, span, done = std::move(done)](
                                                         Result<HttpResponse> result) {
            done(MapRangeGet(std::move(result), *location, key, span));
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
    HttpRequest request = location_->MakeRequest(HttpRequest::Method::kPut, key);
    request.body = std::move(data);
    std::string target_url = HttpClient::Url(request);
    location_->client->Send(
        std::move(request),
        [done = std::move(done), target_url = std::move(target_url)](Result<HttpResponse> result) {
          if (!result.ok()) return done(result.status());
          int status = result->status;
          if (status == 200 || status == 201 || status == 204) return done(Status::Ok());
          done(HttpLocation::Refused(*result, "PUT", target_url));
        });
  }

  int DefaultFetchConcurrency() const override { return location_->default_fetch_concurrency; }

  const std::string& url() const override { return location_->url; }

 private:
  std::shared_ptr<const HttpLocation> location_;
};

}  // namespace

Result<std::shared_ptr<ChunkStore>> OpenHttpStore(const std::string& url,
                                                  std::shared_ptr<HttpClient> client,
                                                  const HttpStoreLimits& limits,
                                                  const HttpAllowlist* allowlist) {
  ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  if (parsed.scheme != "http" && parsed.scheme != "https") {
    return Status::InvalidArgument("store URL \"" + url + "\" is not an http:// or https:// URL");
  }
  if (parsed.host.empty()) {
    return Status::InvalidArgument("store URL \"" + url + "\" has no host");
  }
  const bool https = parsed.scheme == "https";
  const uint16_t port = parsed.port != 0 ? parsed.port : https ? 443 : 80;
  const Status allowed = allowlist != nullptr
                             ? allowlist->CheckHost(parsed.host, port)
                             : Status::InvalidArgument("http:// stores are disabled here");
  if (!allowed.ok()) {
    return Status(allowed.code(), "store URL \"" + url + "\" is refused: " + allowed.message());
  }
  auto location = std::make_shared<HttpLocation>();
  location->url = url;
  location->client = std::move(client);
  location->https = https;
  location->host = std::move(parsed.host);
  location->port = port;
  location->prefix = parsed.path.empty() ? "/" : parsed.path;
  if (location->prefix.back() != '/') location->prefix.push_back('/');
  location->max_in_flight = limits.max_in_flight;
  location->default_fetch_concurrency = limits.default_fetch_concurrency;
  return std::shared_ptr<ChunkStore>(std::make_shared<HttpStore>(std::move(location)));
}

}  // namespace batchd::pipeline
