#include "pipeline/stores/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

#include "pipeline/stores/atomic_file_write.h"
#include "pipeline/stores/store_key.h"
#include "pipeline/stores/store_url.h"

namespace batchd::pipeline {
namespace {

// Keys one pool task reads before it yields its thread (re-queues itself). Long enough that the
// hand-off is noise next to 64 reads, short enough that concurrent sessions take turns.
constexpr size_t kMaxRunLength = 64;
// With few keys, runs shrink so that every allowed thread gets some of them.
constexpr size_t kRunsPerTask = 8;
// Values smaller than this are read with one read(2) and no fstat(2) (ReadOpenFile).
constexpr size_t kScratchBytes = 64 * 1024;
// ReadNow reads at least this much at once, so a small value never needs a second read.
constexpr size_t kReadNowMinBytes = 64 * 1024;
// What ReadNow can tell from a read that came back short: a read that stops for lack of cached
// data stops at a page boundary, so a short read that ends elsewhere ended at the end of the
// file (page sizes are multiples of 4 KiB).
constexpr size_t kPageMultiple = 4096;

// What every read and write of one store needs; shared by the store and its work in flight.
struct FileLocation {
  std::string url;
  std::shared_ptr<const FileRoots> roots;
  std::shared_ptr<IoThreadPool> io;
  size_t root = 0;
  std::string array;   // beneath the root: "" or "a.zarr/t2m"
  std::string prefix;  // `array` + "/" unless empty: prepended to keys
  // False once a read found that this filesystem or kernel has no RWF_NOWAIT.
  mutable std::atomic<bool> read_now_works{true};
  // ChunkStore::LimitValueBytes.
  mutable std::atomic<uint64_t> max_value_bytes{UINT64_MAX};

  // kCorrupt if a value of `size` bytes is over the bound; checked before it is read.
  Status CheckSize(uint64_t size, std::string_view key) const {
    const uint64_t max = max_value_bytes.load(std::memory_order_relaxed);
    if (size <= max) return Status::Ok();
    return Status::Corrupt(Describe(key) + " holds " + std::to_string(size) +
                           " bytes, more than the " + std::to_string(max) +
                           " a stored chunk of this array can take; not read");
  }

  std::string Describe(std::string_view key) const {
    return "key \"" + std::string(key) + "\" of " + url;
  }

  Status OpenError(int error, std::string_view key) const {
    switch (error) {
      case EXDEV:
        return Status::InvalidArgument(roots->OutsideMessage(Describe(key)));
      case ENAMETOOLONG:
        return Status::InvalidArgument(Describe(key) + " is too long for a file path");
      default:
        return Status::IoError("cannot open " + Describe(key) + ": " + std::strerror(error));
    }
  }

  // Reads one key; `path` is scratch space reused across keys so a run allocates no paths.
  Result<std::optional<Bytes>> Read(const std::string& key, std::string& path) const {
    RETURN_IF_ERROR(ValidateStoreKey(key));
    path.assign(prefix).append(key);
    // O_NONBLOCK: opening a FIFO someone left in the array must not hang an I/O thread.
    int fd = roots->OpenBeneath(root, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
      if (fd == -ENOENT || fd == -ENOTDIR) return std::optional<Bytes>();
      return OpenError(-fd, key);
    }
    Result<std::optional<Bytes>> out = ReadOpenFile(fd, key);
    ::close(fd);
    return out;
  }

  // Small chunks (the common case: millions of a few KiB) cost open + read + close: one read
  // into a scratch buffer finds the size (a short read of a regular file means end of file),
  // and the bytes are copied into an exact-size buffer, which is cheaper than an fstat. Only a
  // value that fills the scratch buffer, or reads as empty, is fstat-ed.
  Result<std::optional<Bytes>> ReadOpenFile(int fd, std::string_view key) const {
    thread_local std::unique_ptr<uint8_t[]> scratch(new uint8_t[kScratchBytes]);
    ssize_t n = ReadSome(fd, scratch.get(), kScratchBytes);
    if (n < 0) {
      // A directory under a key is a "prefix", not a value: like an object store, no bytes.
      if (errno == EISDIR) return std::optional<Bytes>();
      return Status::IoError("cannot read " + Describe(key) + ": " + std::strerror(errno));
    }
    if (n > 0 && static_cast<size_t>(n) < kScratchBytes) {
      Bytes data(static_cast<size_t>(n));
      std::memcpy(data.data(), scratch.get(), data.size());
      return std::optional<Bytes>(std::move(data));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Status::IoError("cannot stat " + Describe(key) + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return Status::IoError(Describe(key) + " is not a regular file");
    if (n == 0) return std::optional<Bytes>(Bytes());
    RETURN_IF_ERROR(CheckSize(static_cast<uint64_t>(st.st_size), key));
    Bytes data(std::max(static_cast<size_t>(st.st_size), kScratchBytes));
    std::memcpy(data.data(), scratch.get(), kScratchBytes);
    size_t got = kScratchBytes;
    while (got < data.size()) {
      ssize_t more = ReadSome(fd, data.data() + got, data.size() - got);
      if (more < 0) {
        return Status::IoError("cannot read " + Describe(key) + ": " + std::strerror(errno));
      }
      if (more == 0) break;  // shrank since fstat (only a non-atomic writer does that)
      got += static_cast<size_t>(more);
    }
    data.resize(got);
    return std::optional<Bytes>(std::move(data));
  }

  static ssize_t ReadSome(int fd, uint8_t* into, size_t size) {
    for (;;) {
      ssize_t n = ::read(fd, into, size);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  // ChunkStore::ReadNow: the same open as Read, then reads that take only what the page cache
  // holds (RWF_NOWAIT) into the caller's buffer. Usually open + one read + close, like Read.
  Result<ChunkStore::ReadNowOutcome> ReadNow(const std::string& key, Bytes& into) const {
    using Outcome = ChunkStore::ReadNowOutcome;
    if (!read_now_works.load(std::memory_order_relaxed)) return Outcome::kUnsupported;
    RETURN_IF_ERROR(ValidateStoreKey(key));
    thread_local std::string path;
    path.assign(prefix).append(key);
    int fd = roots->OpenBeneath(root, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
      if (fd == -ENOENT || fd == -ENOTDIR) return Outcome::kMissing;
      return OpenError(-fd, key);
    }
    Result<Outcome> out = ReadCached(fd, key, into);
    ::close(fd);
    return out;
  }

  // The whole file from the page cache into `into`, or kWouldWait as soon as a part of it is
  // not there. One read into the buffer's whole capacity usually gets everything: only a read
  // that fills the buffer or ends on a page boundary needs an fstat to know whether more follows.
  Result<ChunkStore::ReadNowOutcome> ReadCached(int fd, std::string_view key, Bytes& into) const {
    using Outcome = ChunkStore::ReadNowOutcome;
    into.resize(std::max(into.capacity(), kReadNowMinBytes));
    ssize_t n = ReadCachedAt(fd, into.data(), into.size(), 0);
    if (n < 0) return ReadNowError(fd, errno, key);
    size_t got = static_cast<size_t>(n);
    if (got < into.size() && got % kPageMultiple != 0) {
      into.resize(got);
      return Outcome::kRead;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Status::IoError("cannot stat " + Describe(key) + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return Status::IoError(Describe(key) + " is not a regular file");
    RETURN_IF_ERROR(CheckSize(static_cast<uint64_t>(st.st_size), key));
    const size_t size = static_cast<size_t>(st.st_size);
    if (size > into.size()) into.resize(size);
    while (got < size) {
      n = ReadCachedAt(fd, into.data() + got, size - got, static_cast<off_t>(got));
      if (n < 0) return ReadNowError(fd, errno, key);
      if (n == 0) break;  // shrank since fstat (only a non-atomic writer does that)
      got += static_cast<size_t>(n);
    }
    into.resize(got);
    return Outcome::kRead;
  }

  static ssize_t ReadCachedAt(int fd, uint8_t* into, size_t size, off_t offset) {
    iovec part{into, size};
    for (;;) {
      ssize_t n = ::preadv2(fd, &part, 1, offset, RWF_NOWAIT);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  Result<ChunkStore::ReadNowOutcome> ReadNowError(int fd, int error, std::string_view key) const {
    using Outcome = ChunkStore::ReadNowOutcome;
    if (error == EAGAIN) return Outcome::kWouldWait;  // not cached (or a FIFO: Read says so)
    if (error == EISDIR) return Outcome::kMissing;    // a directory under a key, as in Read
    if (error == EOPNOTSUPP || error == EINVAL) {
      // Files that cannot be read without waiting say so too: a directory under a key (no
      // value, as in Read), a FIFO or device (Read says what). Only a regular file means this
      // filesystem or kernel has no RWF_NOWAIT at all.
      struct stat st {};
      if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return Outcome::kMissing;
      if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        read_now_works.store(false, std::memory_order_relaxed);
      }
      return Outcome::kWouldWait;
    }
    return Status::IoError("cannot read " + Describe(key) + ": " + std::strerror(error));
  }

  // ChunkStore::GetRanges on an I/O thread: one open and fstat, then one pread per merged read.
  Result<std::optional<std::vector<Bytes>>> ReadRanges(const std::string& key,
                                                       const std::vector<ByteRange>& ranges) const {
    RETURN_IF_ERROR(ValidateStoreKey(key));
    thread_local std::string path;
    path.assign(prefix).append(key);
    int fd = roots->OpenBeneath(root, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
      if (fd == -ENOENT || fd == -ENOTDIR) return std::optional<std::vector<Bytes>>();
      return OpenError(-fd, key);
    }
    Result<std::optional<std::vector<Bytes>>> out = ReadOpenRanges(fd, key, ranges);
    ::close(fd);
    return out;
  }

  Result<std::optional<std::vector<Bytes>>> ReadOpenRanges(
      int fd, std::string_view key, const std::vector<ByteRange>& ranges) const {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Status::IoError("cannot stat " + Describe(key) + ": " + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return std::optional<std::vector<Bytes>>();  // as Read
    if (!S_ISREG(st.st_mode)) return Status::IoError(Describe(key) + " is not a regular file");
    const auto size = static_cast<uint64_t>(st.st_size);
    std::vector<Bytes> parts(ranges.size());
    Bytes span_bytes;
    for (const RangeRead& read : CoalesceRanges(ranges)) {
      const ByteRange& span = read.span;
      if (span.length > size || (!span.suffix && span.offset > size - span.length)) {
        // Name the asked range, not the merged read: the caller knows only those.
        for (size_t part : read.parts) {
          const ByteRange& range = ranges[part];
          if (range.length > size || (!range.suffix && range.offset > size - range.length)) {
            return RangePastEnd(range, size, Describe(key));
          }
        }
        return RangePastEnd(span, size, Describe(key));
      }
      const uint64_t offset = span.suffix ? size - span.length : span.offset;
      span_bytes.resize(static_cast<size_t>(span.length));
      size_t got = 0;
      while (got < span_bytes.size()) {
        ssize_t n = ::pread(fd, span_bytes.data() + got, span_bytes.size() - got,
                            static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          return Status::IoError("cannot read " + Describe(key) + ": " + std::strerror(errno));
        }
        if (n == 0) return RangePastEnd(span, offset + got, Describe(key));  // it shrank
        got += static_cast<size_t>(n);
      }
      ScatterRead(read, span_bytes, ranges, parts);
    }
    return std::optional<std::vector<Bytes>>(std::move(parts));
  }

  Status Write(const std::string& key, ByteView data) const {
    RETURN_IF_ERROR(ValidateStoreKey(key));
    size_t slash = key.rfind('/');
    std::string directory = array;
    if (slash != std::string::npos) {
      directory.append(directory.empty() ? "" : "/").append(key, 0, slash);
    }
    std::string_view name = slash == std::string::npos ? std::string_view(key)
                                                       : std::string_view(key).substr(slash + 1);
    int dir_fd = roots->OpenOrCreateDirectory(root, directory);
    if (dir_fd < 0) {
      if (dir_fd == -EXDEV || dir_fd == -ENAMETOOLONG) return OpenError(-dir_fd, key);
      return Status::IoError("cannot create the directory of " + Describe(key) + ": " +
                             std::strerror(-dir_fd));
    }
    Status written = WriteFileAtomically(dir_fd, name, data, Describe(key));
    ::close(dir_fd);
    return written;
  }
};

// One GetMany: keys are claimed in runs from `next` by up to `tasks` pool tasks at once.
struct ReadJob : std::enable_shared_from_this<ReadJob> {
  std::shared_ptr<const FileLocation> location;
  std::vector<std::string> keys;
  std::shared_ptr<CancelToken> cancel;
  ChunkStore::ReadCallback on_read;
  size_t run_length = 1;
  std::atomic<size_t> next{0};

  // The body of one pool task: reads runs until the keys are done, re-queueing itself after
  // each run when other tasks are waiting, so they get the thread; if the queue refuses, or
  // nothing waits, it just keeps going (a re-queue costs a hand-off, often a thread wake-up).
  void RunTask() {
    std::string path;
    for (;;) {
      size_t begin = next.fetch_add(run_length, std::memory_order_relaxed);
      if (begin >= keys.size()) return;
      size_t end = std::min(begin + run_length, keys.size());
      for (size_t i = begin; i < end; ++i) {
        if (cancel && cancel->canceled()) {
          on_read(i, Status::Unavailable("canceled"));
        } else {
          on_read(i, location->Read(keys[i], path));
        }
      }
      if (next.load(std::memory_order_relaxed) >= keys.size()) return;
      if (location->io->queued() == 0) continue;
      IoThreadPool::Task again = [self = shared_from_this()] { self->RunTask(); };
      if (location->io->TrySubmit(again)) return;
    }
  }
};

class FileStore final : public ChunkStore {
 public:
  explicit FileStore(std::shared_ptr<const FileLocation> location)
      : location_(std::move(location)) {}

  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<CancelToken> cancel, ReadCallback on_read) override {
    if (keys.empty()) return;
    auto job = std::make_shared<ReadJob>();
    size_t tasks = std::min({static_cast<size_t>(std::max(max_in_flight, 1)),
                             static_cast<size_t>(location_->io->thread_count()), keys.size()});
    job->run_length = std::clamp<size_t>(keys.size() / (tasks * kRunsPerTask), 1, kMaxRunLength);
    job->location = location_;
    job->keys = std::move(keys);
    job->cancel = std::move(cancel);
    job->on_read = std::move(on_read);
    size_t started = 0;
    for (size_t t = 0; t < tasks; ++t) {
      IoThreadPool::Task task = [job] { job->RunTask(); };
      if (location_->io->TrySubmit(task)) ++started;
    }
    if (started == 0) {  // nothing will run: answer every key now
      for (size_t i = 0; i < job->keys.size(); ++i) {
        job->on_read(i, Status::Unavailable("file store I/O queue is full; try again"));
      }
    }
  }

  Result<ReadNowOutcome> ReadNow(const std::string& key, Bytes& into) override {
    return location_->ReadNow(key, into);
  }

  void GetRanges(std::string key, std::vector<ByteRange> ranges,
                 std::shared_ptr<CancelToken> cancel, RangesCallback done) override {
    if (Status valid = ValidateRanges(ranges); !valid.ok()) return done(valid);
    auto shared_done = std::make_shared<RangesCallback>(std::move(done));
    IoThreadPool::Task task = [location = location_, key = std::move(key),
                               ranges = std::move(ranges), cancel = std::move(cancel),
                               shared_done] {
      if (cancel && cancel->canceled()) return (*shared_done)(Status::Unavailable("canceled"));
      (*shared_done)(location->ReadRanges(key, ranges));
    };
    if (!location_->io->TrySubmit(task)) {
      (*shared_done)(Status::Unavailable("file store I/O queue is full; try again"));
    }
  }

  void LimitValueBytes(uint64_t max_bytes) override {
    location_->max_value_bytes.store(max_bytes, std::memory_order_relaxed);
  }

  void Put(std::string key, Bytes data, WriteCallback done) override {
    auto shared_done = std::make_shared<WriteCallback>(std::move(done));
    IoThreadPool::Task task = [location = location_, key = std::move(key), data = std::move(data),
                               shared_done] { (*shared_done)(location->Write(key, data)); };
    if (!location_->io->TrySubmit(task)) {
      (*shared_done)(Status::Unavailable("file store I/O queue is full; try again"));
    }
  }

  Result<size_t> RemoveStaleTempFiles() override {
    int fd =
        location_->roots->OpenBeneath(location_->root, location_->array, O_RDONLY | O_DIRECTORY);
    if (fd == -ENOENT) return size_t{0};  // nothing written yet
    if (fd < 0) {
      if (fd == -EXDEV) {
        return Status::InvalidArgument(location_->roots->OutsideMessage(location_->url));
      }
      return Status::IoError("cannot open " + location_->url + ": " + std::strerror(-fd));
    }
    Result<size_t> removed = pipeline::RemoveStaleTempFiles(fd, location_->url);
    ::close(fd);
    return removed;
  }

  const std::string& url() const override { return location_->url; }

 private:
  std::shared_ptr<const FileLocation> location_;
};

bool IsLocalHost(std::string_view host) {
  if (host.empty()) return true;
  if (host.size() != 9) return false;
  return std::equal(host.begin(), host.end(), "localhost", [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
}

}  // namespace

Result<std::shared_ptr<ChunkStore>> OpenFileStore(const std::string& url,
                                                  std::shared_ptr<const FileRoots> roots,
                                                  std::shared_ptr<IoThreadPool> io) {
  ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  if (parsed.scheme != "file") {
    return Status::InvalidArgument("store URL \"" + url + "\" is not a file:// URL");
  }
  if (!IsLocalHost(parsed.host) || parsed.port != 0) {
    return Status::InvalidArgument("store URL \"" + url +
                                   "\" names a host; file:// URLs must be file:///absolute/path");
  }
  if (parsed.path.empty()) {
    return Status::InvalidArgument("store URL \"" + url + "\" has no path");
  }
  ASSIGN_OR_RETURN(std::string path, PercentDecode(parsed.path));
  Result<FileRoots::Place> place = roots->Locate(path);
  if (!place.ok()) {
    return Status(place.status().code(), "store URL \"" + url + "\": " + place.status().message());
  }
  auto location = std::make_shared<FileLocation>();
  location->url = url;
  location->roots = std::move(roots);
  location->io = std::move(io);
  location->root = place->root;
  location->array = std::move(place->relative);
  location->prefix = location->array.empty() ? std::string() : location->array + "/";
  return std::shared_ptr<ChunkStore>(std::make_shared<FileStore>(std::move(location)));
}

}  // namespace batchd::pipeline
