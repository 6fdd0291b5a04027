#include "pipeline/formats/sharded_reader.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>

#include "core/mutex.h"
#include "pipeline/ops/digest.h"

namespace batchd::pipeline {
namespace {

constexpr uint64_t kMissing = UINT64_MAX;
// Shard indexes kept for later windows: at most this many bytes of entries, and entries.
constexpr size_t kCacheBytes = 8 << 20;
constexpr size_t kCacheEntries = 64;

// One shard's index: (offset, nbytes) per inner chunk in C order.
using ShardIndex = std::vector<std::pair<uint64_t, uint64_t>>;

uint64_t LittleEndian64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Where an inner chunk lies: its shard's key and its number within the shard.
struct InnerPlace {
  std::string shard_key;
  int64_t inner = 0;
};

// What the reader shares with its reads in flight.
struct ShardedLocation {
  std::shared_ptr<ChunkStore> store;
  ArrayMetadata array;
  std::atomic<uint64_t> max_value_bytes{UINT64_MAX};

  Mutex mu;
  std::map<std::string, std::shared_ptr<const ShardIndex>> cache GUARDED_BY(mu);
  std::deque<std::string> cache_order GUARDED_BY(mu);  // oldest first
  size_t cache_bytes GUARDED_BY(mu) = 0;

  std::string Shard(const std::string& key) const {
    return "shard \"" + key + "\" of " + store->url();
  }

  Result<InnerPlace> Place(const std::string& key) const {
    const ShardLayout& layout = *array.shards;
    const std::optional<std::vector<int64_t>> coords = ParseChunkKey(array.keys, key, array.rank());
    const std::vector<int64_t> grid = array.GridShape();
    bool inside = coords.has_value();
    for (int d = 0; inside && d < array.rank(); ++d) inside = (*coords)[d] < grid[d];
    if (!inside) {
      return Status::InvalidArgument("\"" + key + "\" names no inner chunk of " + store->url());
    }
    std::vector<int64_t> shard(coords->size());
    int64_t inner = 0;
    for (size_t d = 0; d < coords->size(); ++d) {
      shard[d] = (*coords)[d] / layout.chunks_per_shard[d];
      inner = inner * layout.chunks_per_shard[d] + (*coords)[d] % layout.chunks_per_shard[d];
    }
    return InnerPlace{array.keys.Key(shard), inner};
  }

  ByteRange IndexRange() const {
    const uint64_t bytes = array.shards->IndexBytes();
    return array.shards->index_at_start ? ByteRange{.offset = 0, .length = bytes}
                                        : ByteRange::Suffix(bytes);
  }

  Result<std::shared_ptr<const ShardIndex>> ParseIndex(const std::string& key,
                                                       const Bytes& bytes) const {
    const ShardLayout& layout = *array.shards;
    if (bytes.size() != layout.IndexBytes()) {
      return Status::Corrupt(Shard(key) + ": its index is " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(layout.IndexBytes()));
    }
    const size_t entries_bytes = static_cast<size_t>(layout.InnerChunks()) * 16;
    if (layout.index_crc32c) {
      uint32_t stored = 0;
      for (int i = 3; i >= 0; --i) stored = (stored << 8) | bytes[entries_bytes + i];
      const uint32_t computed = Crc32c(ByteView(bytes.data(), entries_bytes));
      if (stored != computed) {
        return Status::Corrupt(Shard(key) + ": its index fails its CRC-32C check");
      }
    }
    auto index = std::make_shared<ShardIndex>(static_cast<size_t>(layout.InnerChunks()));
    for (size_t i = 0; i < index->size(); ++i) {
      const uint64_t offset = LittleEndian64(bytes.data() + 16 * i);
      const uint64_t nbytes = LittleEndian64(bytes.data() + 16 * i + 8);
      if ((offset == kMissing) != (nbytes == kMissing)) {
        return Status::Corrupt(Shard(key) + ": index entry " + std::to_string(i) +
                               " marks only one of offset and nbytes missing");
      }
      (*index)[i] = {offset, nbytes};
    }
    return std::shared_ptr<const ShardIndex>(std::move(index));
  }

  std::shared_ptr<const ShardIndex> Cached(const std::string& key) {
    MutexLock lock(mu);
    auto it = cache.find(key);
    return it == cache.end() ? nullptr : it->second;
  }

  void Keep(const std::string& key, std::shared_ptr<const ShardIndex> index) {
    const size_t bytes = index->size() * 16;
    if (bytes > kCacheBytes) return;
    MutexLock lock(mu);
    if (!cache.emplace(key, std::move(index)).second) return;
    cache_order.push_back(key);
    cache_bytes += bytes;
    while (cache_bytes > kCacheBytes || cache_order.size() > kCacheEntries) {
      auto it = cache.find(cache_order.front());
      cache_bytes -= it->second->size() * 16;
      cache.erase(it);
      cache_order.pop_front();
    }
  }
};

// One shard's share of a GetMany: the positions (in the GetMany's keys) of its inner chunks.
struct ShardGroup {
  std::string key;
  std::vector<size_t> items;
  std::vector<int64_t> inner;
};

// One GetMany: up to `max_in_flight` shards at a time, each read index first, then chunks.
struct ShardedReadJob : std::enable_shared_from_this<ShardedReadJob> {
  std::shared_ptr<ShardedLocation> location;
  std::vector<ShardGroup> groups;
  std::shared_ptr<CancelToken> cancel;
  ChunkStore::ReadCallback on_read;
  std::atomic<size_t> next{0};

  void StartNext() {
    const size_t g = next.fetch_add(1, std::memory_order_relaxed);
    if (g >= groups.size()) return;
    if (std::shared_ptr<const ShardIndex> index = location->Cached(groups[g].key)) {
      return ReadChunks(g, std::move(index));
    }
    location->store->GetRanges(
        groups[g].key, {location->IndexRange()}, cancel,
        [self = shared_from_this(), g](Result<std::optional<std::vector<Bytes>>> data) {
          self->OnIndex(g, std::move(data));
        });
  }

  void OnIndex(size_t g, Result<std::optional<std::vector<Bytes>>> data) {
    const ShardGroup& group = groups[g];
    if (!data.ok()) return FailGroup(g, data.status());
    if (!data->has_value()) {  // a missing shard: every inner chunk is the fill value
      for (size_t item : group.items) on_read(item, std::optional<Bytes>());
      return StartNext();
    }
    Result<std::shared_ptr<const ShardIndex>> index = location->ParseIndex(group.key, (**data)[0]);
    if (!index.ok()) return FailGroup(g, index.status());
    location->Keep(group.key, *index);
    ReadChunks(g, std::move(*index));
  }

  void ReadChunks(size_t g, std::shared_ptr<const ShardIndex> index) {
    const ShardGroup& group = groups[g];
    const uint64_t max_bytes = location->max_value_bytes.load(std::memory_order_relaxed);
    std::vector<ByteRange> ranges;
    std::vector<size_t> read_items;  // items of `ranges`, in order
    for (size_t k = 0; k < group.items.size(); ++k) {
      const int64_t inner = group.inner[k];
      const auto [offset, nbytes] = (*index)[static_cast<size_t>(inner)];
      if (offset == kMissing) {
        on_read(group.items[k], std::optional<Bytes>());
        continue;
      }
      Status bad;
      if (nbytes == 0) {
        bad = Status::Corrupt(location->Shard(group.key) + ": inner chunk " +
                              std::to_string(inner) + " has 0 bytes");
      } else if (nbytes > max_bytes) {
        bad = Status::Corrupt(location->Shard(group.key) + ": inner chunk " +
                              std::to_string(inner) + " holds " + std::to_string(nbytes) +
                              " bytes, more than the " + std::to_string(max_bytes) +
                              " a stored chunk of this array can take; not read");
      } else if (offset > UINT64_MAX - nbytes) {
        bad = Status::Corrupt(location->Shard(group.key) + ": inner chunk " +
                              std::to_string(inner) + " ends past 2^64");
      }
      if (!bad.ok()) {
        on_read(group.items[k], bad);
        continue;
      }
      ranges.push_back({.offset = offset, .length = nbytes});
      read_items.push_back(group.items[k]);
    }
    if (ranges.empty()) return StartNext();
    location->store->GetRanges(
        group.key, std::move(ranges), cancel,
        [self = shared_from_this(), g,
         read_items = std::move(read_items)](Result<std::optional<std::vector<Bytes>>> data) {
          const std::string shard = self->location->Shard(self->groups[g].key);
          if (!data.ok()) {
            const Status& s = data.status();
            for (size_t item : read_items) {
              self->on_read(item, Status(s.code(), shard + ": " + s.message()));
            }
          } else if (!data->has_value()) {
            for (size_t item : read_items) {
              self->on_read(item, Status::Unavailable(shard + " disappeared while it was read"));
            }
          } else {
            for (size_t j = 0; j < read_items.size(); ++j) {
              self->on_read(read_items[j], std::optional<Bytes>(std::move((**data)[j])));
            }
          }
          self->StartNext();
        });
  }

  void FailGroup(size_t g, const Status& s) {
    const std::string shard = location->Shard(groups[g].key);
    // Store errors name the key already; index errors start with the shard.
    const Status named =
        s.message().starts_with(shard) ? s : Status(s.code(), shard + ": " + s.message());
    for (size_t item : groups[g].items) on_read(item, named);
    StartNext();
  }
};

class ShardedReader final : public ChunkStore {
 public:
  explicit ShardedReader(std::shared_ptr<ShardedLocation> location)
      : location_(std::move(location)) {}

  void GetMany(std::vector<std::string> keys, int max_in_flight,
               std::shared_ptr<CancelToken> cancel, ReadCallback on_read) override {
    if (keys.empty()) return;
    auto job = std::make_shared<ShardedReadJob>();
    job->location = location_;
    job->cancel = std::move(cancel);
    job->on_read = std::move(on_read);
    std::map<std::string, size_t> group_of;
    std::vector<std::pair<size_t, Status>> refused;
    for (size_t i = 0; i < keys.size(); ++i) {
      Result<InnerPlace> place = location_->Place(keys[i]);
      if (!place.ok()) {
        refused.emplace_back(i, place.status());
        continue;
      }
      auto [it, added] = group_of.emplace(place->shard_key, job->groups.size());
      if (added) job->groups.push_back({.key = place->shard_key, .items = {}, .inner = {}});
      job->groups[it->second].items.push_back(i);
      job->groups[it->second].inner.push_back(place->inner);
    }
    // Keys the pipeline never makes: answered here, before any read is started.
    for (auto& [i, status] : refused) job->on_read(i, status);
    const size_t chains =
        std::min(static_cast<size_t>(std::max(max_in_flight, 1)), job->groups.size());
    for (size_t c = 0; c < chains; ++c) job->StartNext();
  }

  void Put(std::string key, Bytes, WriteCallback done) override {
    done(Status::FailedPrecondition("the shards of " + location_->store->url() +
                                    " are read through a read-only view; \"" + key +
                                    "\" was not written"));
  }

  void LimitValueBytes(uint64_t max_bytes) override {
    location_->max_value_bytes.store(max_bytes, std::memory_order_relaxed);
  }

  int DefaultFetchConcurrency() const override {
    return location_->store->DefaultFetchConcurrency();
  }

  const std::string& url() const override { return location_->store->url(); }

 private:
  std::shared_ptr<ShardedLocation> location_;
};

}  // namespace

std::shared_ptr<ChunkStore> OpenShardedReader(std::shared_ptr<ChunkStore> shards,
                                              const ArrayMetadata& array) {
  auto location = std::make_shared<ShardedLocation>();
  location->store = std::move(shards);
  location->array = array;
  return std::make_shared<ShardedReader>(std::move(location));
}

}  // namespace batchd::pipeline
