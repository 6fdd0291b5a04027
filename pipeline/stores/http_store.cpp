#include "pipeline/stores/http_store.h"

#include <algorithm>
#include <atomic>

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

// One GetMany: `max_in_flight` chains, each sending the next unclaimed key when its previous
// request completes.
struct HttpReadJob : std::enable_shared_from_this<HttpReadJob> {
  std::shared_ptr<const HttpLocation> location;
  std::vector<std::string> keys;
  std::shared_ptr<CancelToken> cancel;
  ChunkStore::ReadCallback on_read;
  std::atomic<size_t> next{0};

  // Sends the next key; answers keys that need no request (refused, canceled) on the way.
  void SendNext() {
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= keys.size()) return;
      if (cancel && cancel->canceled()) {
        on_read(i, Status::Unavailable("canceled"));
        continue;
      }
      if (Status valid = ValidateStoreKey(keys[i]); !valid.ok()) {
        on_read(i, valid);
        continue;
      }
      HttpRequest request = location->MakeRequest(HttpRequest::Method::kGet, keys[i]);
      request.cancel = cancel;
      location->client->Send(
          std::move(request), [self = shared_from_this(), i](Result<HttpResponse> result) {
            self->on_read(i, MapGet(std::move(result), *self->location, self->keys[i]));
            self->SendNext();
          });
      return;
    }
  }
};

class HttpStore final : public ChunkStore {
 public:
  explicit HttpStore(std::shared_ptr<const HttpLocation> location)
      : location_(std::move(location)) {}

  void LimitValueBytes(uint64_t max_bytes) override {
    location_->max_value_bytes.store(max_bytes, std::memory_order_relaxed);
  }

  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<CancelToken> cancel, ReadCallback on_read) override {
    if (keys.empty()) return;
    auto job = std::make_shared<HttpReadJob>();
    size_t chains =
        std::min({static_cast<size_t>(std::max(max_in_flight, 1)),
                  static_cast<size_t>(std::max(location_->max_in_flight, 1)), keys.size()});
    job->location = location_;
    job->keys = std::move(keys);
    job->cancel = std::move(cancel);
    job->on_read = std::move(on_read);
    // Started on a client thread, so even keys answered without a request (refused, canceled)
    // are reported there and never on the caller's thread.
    location_->client->Post([job, chains] {
      for (size_t c = 0; c < chains; ++c) job->SendNext();
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
