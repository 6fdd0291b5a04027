#include "pipeline/stores/http_store.h"

#include <algorithm>
#include <atomic>

#include "core/mutex.h"

#include "pipeline/stores/chained_reads.h"
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

// A Content-Range header, "bytes first-last/total" or "bytes */total" (total "*": unknown).
struct ContentRange {
  std::optional<uint64_t> first, last, total;
};

std::optional<uint64_t> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ContentRange out;
  const std::string_view span = value.substr(0, slash);
  const std::string_view total = value.substr(slash + 1);
  if (total != "*") {
    out.total = ParseNumber(total);
    if (!out.total) return std::nullopt;
  }
  if (span == "*") return out;
  const size_t dash = span.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  out.first = ParseNumber(span.substr(0, dash));
  out.last = ParseNumber(span.substr(dash + 1));
  if (!out.first || !out.last || *out.last < *out.first) return std::nullopt;
  return out;
}

// The bytes of one merged read (`span`) from its answer: a 206 must hold exactly the span (a
// server clamps a range that runs past the end, which shows as a shorter part), a 200 is the
// whole value (a server that ignores Range), a 416 says the span starts past the end.
// nullopt: the key does not exist.
Result<std::optional<Bytes>> MapRangeGet(Result<HttpResponse> result, const HttpLocation& location,
                                         const std::string& key, const ByteRange& span) {
  if (!result.ok()) return result.status();
  HttpResponse& response = *result;
  const std::string what = "key \"" + key + "\" of " + location.url;
  if (response.status == 404 || response.status == 410) return std::optional<Bytes>();
  if (response.status == 200) {
    ASSIGN_OR_RETURN(std::vector<Bytes> whole, SliceRanges(response.body, {&span, 1}, what));
    return std::optional<Bytes>(std::move(whole[0]));
  }
  const std::optional<ContentRange> range = ParseContentRange(response.content_range);
  if (response.status == 416) {
    if (range && range->total) return RangePastEnd(span, *range->total, what);
    return Status::Corrupt(HttpRangeHeader(span) + " of " + what + ": " + response.status_text +
                           " (the range starts past the end of the value)");
  }
  if (response.status != 206) {
    HttpRequest request = location.MakeRequest(HttpRequest::Method::kGet, key);
    return HttpLocation::Refused(response, "GET", HttpClient::Url(request));
  }
  if (range && range->first && range->total &&
      response.body.size() == *range->last - *range->first + 1) {
    const uint64_t total = *range->total;
    if (span.length > total || (!span.suffix && span.offset > total - span.length)) {
      return RangePastEnd(span, total, what);
    }
    const uint64_t first = span.suffix ? total - span.length : span.offset;
    if (*range->first == first && response.body.size() == span.length) {
      return std::optional<Bytes>(std::move(response.body));
    }
  }
  return Status::Corrupt(HttpRangeHeader(span) + " of " + what +
                         " was answered with another part (Content-Range \"" +
                         response.content_range.substr(0, 100) + "\", " +
                         std::to_string(response.body.size()) + " bytes)");
}

// One GetRanges: every merged read in flight at once (they are few: neighbours are merged),
// answered when the last one is.
struct HttpRangesJob {
  std::shared_ptr<const HttpLocation> location;
  std::string key;
  std::vector<ByteRange> ranges;
  std::vector<RangeRead> reads;
  ChunkStore::RangesCallback done;
  Mutex mu;
  std::vector<Bytes> parts GUARDED_BY(mu);
  size_t pending GUARDED_BY(mu) = 0;
  bool missing GUARDED_BY(mu) = false;
  Status error GUARDED_BY(mu);

  void OnRead(size_t r, Result<std::optional<Bytes>> data) {
    bool last = false;
    {
      MutexLock lock(mu);
      if (!data.ok()) {
        if (error.ok()) error = data.status();
      } else if (!data->has_value()) {
        missing = true;
      } else if (error.ok() && !missing) {
        ScatterRead(reads[r], **data, ranges, parts);
      }
      last = --pending == 0;
    }
    if (!last) return;
    std::optional<Result<std::optional<std::vector<Bytes>>>> out;
    {
      MutexLock lock(mu);
      if (!error.ok()) {
        out.emplace(error);
      } else if (missing) {
        out.emplace(std::optional<std::vector<Bytes>>());
      } else {
        out.emplace(std::optional<std::vector<Bytes>>(std::move(parts)));
      }
    }
    done(std::move(*out));
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
    Status valid = ValidateRanges(ranges);
    if (valid.ok()) valid = ValidateStoreKey(key);
    if (!valid.ok()) {
      location_->client->Post([done = std::move(done), valid] { done(valid); });
      return;
    }
    auto job = std::make_shared<HttpRangesJob>();
    job->location = location_;
    job->key = std::move(key);
    job->reads = CoalesceRanges(ranges);
    job->ranges = std::move(ranges);
    job->done = std::move(done);
    {
      MutexLock lock(job->mu);
      job->parts.resize(job->ranges.size());
      job->pending = job->reads.size();
    }
    for (size_t r = 0; r < job->reads.size(); ++r) {
      const ByteRange& span = job->reads[r].span;
      HttpRequest request = location_->MakeRequest(HttpRequest::Method::kGet, job->key);
      request.range = HttpRangeHeader(span);
      // A 206 holds the span; the value bound only limits a 200 with the whole value.
      request.max_response_bytes = std::max(request.max_response_bytes, span.length);
      request.cancel = cancel;
      location_->client->Send(std::move(request), [job, r](Result<HttpResponse> result) {
        job->OnRead(r,
                    MapRangeGet(std::move(result), *job->location, job->key, job->reads[r].span));
      });
    }
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
