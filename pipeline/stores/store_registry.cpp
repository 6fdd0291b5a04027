// StoreRegistry, the blocking helpers, and the wiring of the built-in stores (file://, http://,
// https:// and s3://).
#include <thread>

#include "core/mutex.h"
#include "pipeline/stores/chunk_store.h"
#include "pipeline/stores/file_store.h"
#include "pipeline/stores/http_allowlist.h"
#include "pipeline/stores/http_store.h"
#include "pipeline/stores/s3/s3_store.h"
#include "pipeline/stores/store_url.h"

namespace batchd::pipeline {
namespace {

// Tasks the file I/O queue holds: a GetMany queues at most one per I/O thread and a Put one, so
// this is thousands of concurrent GetMany/Put calls, far beyond what sessions issue.
constexpr size_t kFileIoQueueLimit = 16384;

// Waits for one callback of a store. The state is shared with the callback, which may run
// after the waiter gave up (it never does: stores call back exactly once).
template <typename T>
class OneShot {
 public:
  void Set(T value) {
    {
      MutexLock lock(mu_);
      value_.emplace(std::move(value));
    }
    ready_.Signal();
  }
  T Wait() {
    MutexLock lock(mu_);
    while (!value_.has_value()) ready_.Wait(mu_);
    return std::move(*value_);
  }

 private:
  Mutex mu_;
  CondVar ready_;
  std::optional<T> value_ GUARDED_BY(mu_);
};

}  // namespace

void StoreRegistry::Register(std::string scheme, Factory factory) {
  factories_.Register(std::move(scheme), std::move(factory));
}

Result<std::shared_ptr<ChunkStore>> StoreRegistry::Open(const std::string& url) const {
  ASSIGN_OR_RETURN(std::string scheme, ParseUrlScheme(url));
  const Factory* factory = factories_.Find(scheme);
  if (factory == nullptr) {
    return Status::InvalidArgument("store URL \"" + url + "\" has an unknown scheme \"" + scheme +
                                   "\" (known: " + factories_.KnownNames() + ")");
  }
  return (*factory)(url);
}

Result<std::optional<Bytes>> ReadKey(ChunkStore& store, std::string key) {
  auto result = std::make_shared<OneShot<Result<std::optional<Bytes>>>>();
  std::vector<std::string> keys;
  keys.push_back(std::move(key));
  store.GetMany(std::move(keys), 1, nullptr, [result](size_t, Result<std::optional<Bytes>> data) {
    result->Set(std::move(data));
  });
  return result->Wait();
}

Status WriteKey(ChunkStore& store, std::string key, Bytes data) {
  auto result = std::make_shared<OneShot<Status>>();
  store.Put(std::move(key), std::move(data), [result](Status status) { result->Set(status); });
  return result->Wait();
}

Result<std::optional<std::vector<Bytes>>> ReadRanges(ChunkStore& store, std::string key,
                                                     std::vector<ByteRange> ranges) {
  auto result = std::make_shared<OneShot<Result<std::optional<std::vector<Bytes>>>>>();
  store.GetRanges(
      std::move(key), std::move(ranges), nullptr,
      [result](Result<std::optional<std::vector<Bytes>>> data) { result->Set(std::move(data)); });
  return result->Wait();
}

void ChunkStore::GetRanges(std::string key, std::vector<ByteRange> ranges,
                           std::shared_ptr<CancelToken> cancel, RangesCallback done) {
  if (Status valid = ValidateRanges(ranges); !valid.ok()) return done(valid);
  std::vector<std::string> keys;
  keys.push_back(key);
  GetMany(std::move(keys), 1, std::move(cancel),
          [what = "key \"" + key + "\" of " + url(), ranges = std::move(ranges),
           done = std::move(done)](size_t, Result<std::optional<Bytes>> data) {
            if (!data.ok()) return done(data.status());
            if (!data->has_value()) return done(std::optional<std::vector<Bytes>>());
            Result<std::vector<Bytes>> parts = SliceRanges(**data, ranges, what);
            if (!parts.ok()) return done(parts.status());
            done(std::optional<std::vector<Bytes>>(std::move(*parts)));
          });
}

void RegisterBuiltinStores(StoreRegistry& registry, const StoreOptions& options) {
  RegisterBuiltinStores(registry, options, nullptr);
}

void RegisterBuiltinStores(StoreRegistry& registry, const StoreOptions& options,
                           std::shared_ptr<const S3Settings> s3) {
  Result<std::shared_ptr<const FileRoots>> roots = FileRoots::Open(options.file_roots);
  auto io = std::make_shared<IoThreadPool>(options.file_io_threads, kFileIoQueueLimit);
  registry.Register(
      "file", [roots, io](const std::string& url) -> Result<std::shared_ptr<ChunkStore>> {
        if (!roots.ok()) {
          return Status(roots.status().code(),
                        "store URL \"" + url + "\" cannot be opened: " + roots.status().message());
        }
        return OpenFileStore(url, *roots, io);
      });

  std::shared_ptr<const HttpAllowlist> allowlist = options.http_allowlist;
  HttpClientOptions http_options{
      .max_connections_per_host = options.http_max_in_flight,
      .initial_connections_per_host = options.http_initial_in_flight,
      .retries = options.http_retries,
      .retry_base_ms = options.http_retry_base_ms,
      .max_retry_after_ms = options.http_max_retry_after_ms,
      .timeout_ms = options.http_timeout_ms,
      .threads = 2,
      .ca_file = options.http_ca_file,
  };
  if (allowlist) {
    // The names were checked when the store was opened; this checks what they resolve to.
    http_options.check_address = [allowlist](const std::string& address, uint16_t port) {
      return allowlist->CheckAddress(address, port);
    };
  }
  std::shared_ptr<HttpClient> client = HttpClient::Create(http_options);
  const HttpStoreLimits limits{.max_in_flight = options.http_max_in_flight,
                               .default_fetch_concurrency = options.http_default_in_flight};
  // One client for both schemes: its pools are per scheme, host and port.
  for (const char* scheme : {"http", "https"}) {
    registry.Register(scheme, [client, limits, allowlist](const std::string& url) {
      return OpenHttpStore(url, client, limits, allowlist.get());
    });
  }
  // s3:// over the same client: an S3 endpoint is one more host with its pool.
  const S3StoreLimits s3_limits{.max_in_flight = options.http_max_in_flight,
                                .default_fetch_concurrency = options.http_default_in_flight};
  registry.Register("s3", [client, s3, s3_limits, allowlist](const std::string& url) {
    return OpenS3Store(url, client, s3, s3_limits, allowlist.get());
  });
}

}  // namespace batchd::pipeline
