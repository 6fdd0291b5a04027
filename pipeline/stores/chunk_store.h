// Where chunks live, and the registry that opens a store from a URL.
//
// A ChunkStore is opened on the URL of an array's root (file:///data/a.zarr/t2m,
// http://127.0.0.1:9000/a.zarr/t2m); keys are relative to it: ".zarray", "zarr.json", "0.0",
// "0/0", "c/0/0". A key never starts with "/" and never has an empty, "." or ".." component;
// stores refuse such keys with kInvalidArgument.
//
// Threading: every method may be called from any thread. Callbacks run on the store's own
// threads (an I/O pool for file://, the HTTP client's threads for http(s)://), possibly several at
// once; they must be quick and must not block. A store object lives as long as its last
// shared_ptr; callbacks already scheduled still run after the caller dropped it.
//
// Recipe for a new store: implement ChunkStore, register a factory for its URL scheme in
// RegisterBuiltinStores, and add it to the store conformance suite
// (tests/store/store_conformance_test.cpp). file_store.cpp is the reference;
// docs/pipeline.md ("Stores") describes the URL forms and behaviour of the built-in ones.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/registry.h"
#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/engine/cancel_token.h"
#include "pipeline/stores/byte_ranges.h"

namespace batchd::pipeline {

class HttpAllowlist;  // http_allowlist.h

class ChunkStore {
 public:
  // The bytes stored under the key, nullopt if the key does not exist (a missing chunk is not
  // an error: it reads as the fill value), or why it could not be read: kIoError or
  // kUnavailable when trying again may help (a busy peer, a timeout, a 5xx), kInvalidArgument
  // for a key the store refuses.
  using ReadCallback = std::function<void(size_t index, Result<std::optional<Bytes>> data)>;
  using WriteCallback = std::function<void(Status)>;

  virtual ~ChunkStore() = default;

  // Reads every keys[i] with at most `max_in_flight` (>= 1) reads outstanding, and calls
  // on_read(i, data) exactly once per key as each read completes, in no particular order and
  // possibly concurrently. If `cancel` (may be null) is canceled, keys not yet started are not
  // read and report kUnavailable("canceled"). Returns at once. One exception to "callbacks run
  // on store threads": a store whose bounded work queue is full answers every key (or a Put)
  // kUnavailable at once on the calling thread, so do not hold a lock the callback takes.
  virtual void GetMany(std::vector<std::string> keys, int max_in_flight,
                       std::shared_ptr<CancelToken> cancel, ReadCallback on_read) = 0;

  // What ReadNow did.
  enum class ReadNowOutcome {
    kRead,         // `into` holds the value
    kMissing,      // the key does not exist (GetMany would say nullopt)
    kWouldWait,    // nothing read: the value is not at hand (say, not in the page cache)
    kUnsupported,  // nothing read, and this store never reads on the caller's thread
  };

  // An optional fast path for a caller that is about to work on the value anyway: reads `key`
  // on the calling thread, but only if that involves no waiting for a device or a peer
  // (file://: the bytes are in the page cache). `into` is replaced by the value (its capacity is
  // reused, so a caller that keeps one buffer per thread allocates nothing per read). kRead and
  // kMissing mean what a GetMany callback would have said; errors are GetMany's (kIoError,
  // kInvalidArgument for a refused key). kWouldWait: use GetMany for this key. kUnsupported
  // (the default): use GetMany, and do not ask again. Never blocks on I/O beyond what looking
  // up a cached path takes.
  virtual Result<ReadNowOutcome> ReadNow(const std::string& key, Bytes& into) {
    return ReadNowOutcome::kUnsupported;
  }

  // The bytes of `ranges` of the value under `key`, one Bytes per range in the order asked;
  // nullopt if the key does not exist; kCorrupt naming the key when a range lies past the
  // value's end; kInvalidArgument for a range of length 0 (byte_ranges.h: answered at once, on the
  // calling thread) or a refused key; the errors of GetMany otherwise. Ranges near each other are
  // read together (CoalesceRanges), so asking for many small neighbouring ranges costs few reads.
  // Calls `done` once, on a store thread (as GetMany). The value bound (LimitValueBytes) does not
  // apply to the ranges, which the caller sized, only to a whole value a store falls back to.
  // The default reads the whole value with GetMany and cuts the ranges out: right, but it reads
  // everything; file:// (pread), http(s):// and s3:// (range_reads.h) read only the ranges.
  using RangesCallback = std::function<void(Result<std::optional<std::vector<Bytes>>>)>;
  virtual void GetRanges(std::string key, std::vector<ByteRange> ranges,
                         std::shared_ptr<CancelToken> cancel, RangesCallback done);

  // Stores `data` under `key`, replacing what was there atomically: readers see the old bytes
  // or the new ones, never a part, and a crash leaves no partial file under the key. Creates
  // intermediate "directories" as needed. Calls `done` once. Returns at once.
  virtual void Put(std::string key, Bytes data, WriteCallback done) = 0;

  // Removes what writers that died mid-Put left behind (file://: temp files next to keys) and
  // returns how many things it removed. Safe while other Puts run, in this process or another.
  // Blocking (it may list every directory of the array): call it from a thread that may wait,
  // e.g. before a session that writes resumes. Stores whose writes leave nothing behind
  // (http://: the server's business) do nothing.
  virtual Result<size_t> RemoveStaleTempFiles() { return size_t{0}; }

  // Bounds the values this store instance reads from now on: one larger than `max_bytes` ends
  // its read with kCorrupt naming the key and both sizes, found before the value is read whole
  // (file://: the file's size; http://: the Content-Length, or a running count of a body sent
  // without one), so a 3 GiB file or an endless body never reaches memory. Stores without it
  // read any size (up to their own limits).
  virtual void LimitValueBytes(uint64_t max_bytes) {}

  // The reads in flight a session keeps on this store when its job sets no
  // limits.fetch_concurrency, if the store wants fewer than the daemon's default
  // (--fetch-concurrency); 0 (the default): no wish. http(s):// says 8 (--http-default-in-flight):
  // one server behind all of a session's reads, which a small one (python3 -m http.server, with
  // its listen backlog of 5) cannot take 64 at a time. A job's limits.fetch_concurrency still
  // raises it.
  virtual int DefaultFetchConcurrency() const { return 0; }

  // The URL the store was opened on, for messages.
  virtual const std::string& url() const = 0;
};

// Blocking helpers for small documents (metadata). They wait for the store's callback, so they
// must not be called from a store thread.
Result<std::optional<Bytes>> ReadKey(ChunkStore& store, std::string key);
Status WriteKey(ChunkStore& store, std::string key, Bytes data);
Result<std::optional<std::vector<Bytes>>> ReadRanges(ChunkStore& store, std::string key,
                                                     std::vector<ByteRange> ranges);

// What stores may reach, set by `batchd serve` flags.
struct StoreOptions {
  // file:// URLs must resolve (after following symlinks and "..") inside one of these
  // directories; with none, every file:// URL is refused (`--file-root DIR`, repeatable).
  std::vector<std::filesystem::path> file_roots;
  int file_io_threads = 4;
  // http(s)://: requests in flight per store and host at most (connections in the host's
  // keep-alive pool), the reads in flight of a job that sets no limits.fetch_concurrency
  // (DefaultFetchConcurrency), retries of a failed request (5xx, 408, 429, timeout, connection
  // refused or reset) with exponential backoff from http_retry_base_ms or the server's
  // Retry-After up to http_max_retry_after_ms, and the timeout of one request.
  int http_max_in_flight = 64;
  // Connections a host starts with; one more per answer after which it keeps its connection
  // open, up to http_max_in_flight (HttpClientOptions::initial_connections_per_host).
  int http_initial_in_flight = 4;
  int http_default_in_flight = 8;
  int http_retries = 3;
  int http_retry_base_ms = 50;
  int http_max_retry_after_ms = 30'000;
  int http_timeout_ms = 30'000;
  // https://: a PEM file of the CAs to trust instead of the system's (`--ca-file`).
  std::string http_ca_file;
  // Where http:// stores may send requests (http_allowlist.h: `--http-allow`, never the
  // daemon's own endpoint); null refuses every http:// URL.
  std::shared_ptr<const HttpAllowlist> http_allowlist;
};

class StoreRegistry {
 public:
  // Opens a store on `url`. Called concurrently from many threads.
  using Factory = std::function<Result<std::shared_ptr<ChunkStore>>(const std::string& url)>;

  // Replaces any factory registered for `scheme` ("file", "http", "https").
  void Register(std::string scheme, Factory factory);

  // kInvalidArgument naming the URL when its scheme is unknown, it is malformed, or (file://)
  // it lies outside every file root.
  Result<std::shared_ptr<ChunkStore>> Open(const std::string& url) const;

 private:
  Registry<Factory> factories_;
};

// Registers file://, http:// and https:// with the I/O resources they share (an I/O thread
// pool, an HTTP client context). Those resources live until the last store and the registry's
// factories are gone.
void RegisterBuiltinStores(StoreRegistry& registry, const StoreOptions& options);

}  // namespace batchd::pipeline
