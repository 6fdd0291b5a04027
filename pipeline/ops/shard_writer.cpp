#include "pipeline/ops/shard_writer.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/mutex.h"
#include "pipeline/formats/array_format.h"
#include "pipeline/ops/digest.h"

namespace batchd::pipeline {
namespace {

constexpr uint64_t kMissing = UINT64_MAX;

void AppendLittleEndian(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A shard object: the present inner chunks in C order, then the index and its CRC-32C.
Bytes AssembleShard(const ShardLayout& layout, const std::vector<std::optional<Bytes>>& inner) {
  size_t data_bytes = 0;
  for (const std::optional<Bytes>& c : inner) data_bytes += c ? c->size() : 0;
  Bytes shard;
  shard.reserve(data_bytes + layout.IndexBytes());
  std::vector<std::pair<uint64_t, uint64_t>> index;
  index.reserve(inner.size());
  for (const std::optional<Bytes>& c : inner) {
    if (!c) {
      index.emplace_back(kMissing, kMissing);
      continue;
    }
    index.emplace_back(shard.size(), c->size());
    shard.insert(shard.end(), c->begin(), c->end());
  }
  const size_t index_start = shard.size();
  for (const auto& [offset, nbytes] : index) {
    AppendLittleEndian(shard, offset, 8);
    AppendLittleEndian(shard, nbytes, 8);
  }
  if (layout.index_crc32c) {
    const uint32_t crc = Crc32c(ByteView(shard.data() + index_start, shard.size() - index_start));
    AppendLittleEndian(shard, crc, 4);
  }
  return shard;
}

// One inner chunk's outcome, folded under the pipeline's lock.
struct InnerChunkDone final : ChunkContribution {
  std::string shard;          // its shard's key
  int64_t shard_chunks = 0;   // the chunks of that shard in the region
  bool wrote = false;         // not missing: its bytes are in the shard
  bool shard_stored = false;  // the shard was written (not every inner chunk missing)
};

class ShardWriter final : public ChunkConsumer {
 public:
  ShardWriter(std::shared_ptr<ChunkStore> sink, std::shared_ptr<const Codec> codec,
              ArrayMetadata sink_array, ChunkRegion region, nlohmann::json attributes)
      : sink_(std::move(sink)),
        codec_(std::move(codec)),
        array_(std::move(sink_array)),
        layout_(*array_.shards),
        region_(std::move(region)),
        attributes_(std::move(attributes)) {}

  bool NativeByteOrder() const override { return false; }

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    const size_t rank = chunk.coords.size();
    std::vector<int64_t> shard(rank);
    int64_t inner = 0;
    for (size_t d = 0; d < rank; ++d) {
      shard[d] = chunk.coords[d] / layout_.chunks_per_shard[d];
      inner = inner * layout_.chunks_per_shard[d] + chunk.coords[d] % layout_.chunks_per_shard[d];
    }
    std::string key = array_.keys.Key(shard);
    auto contribution = [&](bool shard_stored) {
      auto c = std::make_unique<InnerChunkDone>();
      c->shard = key;
      c->shard_chunks = ChunksInRegion(shard);
      c->wrote = !chunk.missing;
      c->shard_stored = shard_stored;
      return c;
    };
    if (already_written_.count(key) != 0) {
      // A resumed session: the shard was written before the kill, only some of its chunks were
      // folded. It holds this chunk already.
      return done(std::unique_ptr<ChunkContribution>(contribution(true)));
    }
    std::optional<Bytes> encoded;
    if (!chunk.missing) {
      encoded.emplace();
      if (Status s = codec_->Encode(chunk.data, *encoded); !s.ok()) return done(s);
    }
    OpenShard complete;
    bool dropped = false;
    {
      MutexLock lock(mu_);
      if (stopped_) {
        dropped = true;  // after OnStop: not done, so redone on resume
      } else {
        OpenShard& open = open_[key];
        if (open.inner.empty()) {
          open.inner.resize(static_cast<size_t>(layout_.InnerChunks()));
          open.expected = ChunksInRegion(shard);
        }
        open.inner[static_cast<size_t>(inner)] = std::move(encoded);
        open.waiting.push_back({std::move(done), contribution(false)});
        if (static_cast<int64_t>(open.waiting.size()) < open.expected) return;
        complete = std::move(open);
        open_.erase(key);
      }
    }
    if (dropped) return done(std::unique_ptr<ChunkContribution>());
    Write(std::move(key), std::move(complete));
  }

  void OnStop() override {
    std::map<std::string, OpenShard> open;
    {
      MutexLock lock(mu_);
      stopped_ = true;
      open.swap(open_);
    }
    for (auto& [key, shard] : open) {
      for (Waiting& w : shard.waiting) w.done(std::unique_ptr<ChunkContribution>());
    }
  }

  void Fold(int64_t, ChunkContribution& c) override {
    auto& done = static_cast<InnerChunkDone&>(c);
    if (done.wrote) ++chunks_written_;
    auto [it, first] = acknowledging_.emplace(done.shard, done.shard_chunks);
    if (first && done.shard_stored) ++shards_written_;
    if (--it->second == 0) acknowledging_.erase(it);
  }

  nlohmann::json SaveState() const override {
    return {{"chunks_written", chunks_written_},
            {"shards_written", shards_written_},
            {"acknowledging", acknowledging_}};
  }

  Status RestoreState(const nlohmann::json& state) override {
    try {
      chunks_written_ = state.value("chunks_written", int64_t{0});
      shards_written_ = state.value("shards_written", int64_t{0});
      acknowledging_ = state.value("acknowledging", nlohmann::json::object())
                           .get<std::map<std::string, int64_t>>();
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(std::string("sharded transcode state: ") + e.what());
    }
    for (const auto& [key, remaining] : acknowledging_) already_written_.insert(key);
    return Status::Ok();
  }

  void Finish(FinishDone done) override {
    Result<std::string> doc = ZarrV3ArrayDocument(array_, attributes_);
    if (!doc.ok()) return done(doc.status());
    sink_->Put("zarr.json", Bytes(doc->begin(), doc->end()),
               [done = std::move(done), url = sink_->url(), chunks = chunks_written_,
                shards = shards_written_](Status s) {
                 if (!s.ok())
                   return done(Status(s.code(), "writing " + url + "/zarr.json: " + s.message()));
                 done(nlohmann::json{
                     {"sink", url}, {"chunks_written", chunks}, {"shards_written", shards}});
               });
  }

 private:
  struct Waiting {
    ProcessDone done;
    std::unique_ptr<InnerChunkDone> contribution;
  };
  struct OpenShard {
    std::vector<std::optional<Bytes>> inner;  // by inner chunk number; nullopt: missing
    std::vector<Waiting> waiting;             // one per chunk received
    int64_t expected = 0;                     // chunks it gets in this session
  };

  // Inner chunks of shard `shard` inside the session's region.
  int64_t ChunksInRegion(const std::vector<int64_t>& shard) const {
    int64_t n = 1;
    for (size_t d = 0; d < shard.size(); ++d) {
      const int64_t first = std::max(shard[d] * layout_.chunks_per_shard[d], region_.start()[d]);
      const int64_t end = std::min((shard[d] + 1) * layout_.chunks_per_shard[d], region_.stop()[d]);
      n *= std::max<int64_t>(end - first, 0);
    }
    return n;
  }

  void Write(std::string key, OpenShard shard) {
    bool any = false;
    for (const std::optional<Bytes>& c : shard.inner) any = any || c.has_value();
    auto finish = [](std::vector<Waiting>& waiting, const Status& s, bool stored) {
      for (Waiting& w : waiting) {
        if (!s.ok()) {
          w.done(s);
          continue;
        }
        w.contribution->shard_stored = stored;
        w.done(std::unique_ptr<ChunkContribution>(std::move(w.contribution)));
      }
    };
    if (!any) return finish(shard.waiting, Status::Ok(), false);  // all fill: nothing to store
    Bytes bytes = AssembleShard(layout_, shard.inner);
    shard.inner.clear();
    auto waiting = std::make_shared<std::vector<Waiting>>(std::move(shard.waiting));
    sink_->Put(key, std::move(bytes), [waiting, finish, key](Status s) {
      if (!s.ok())
        s = Status(s.code(), "writing shard \"" + key + "\" to the sink: " + s.message());
      finish(*waiting, s, true);
    });
  }

  const std::shared_ptr<ChunkStore> sink_;
  const std::shared_ptr<const Codec> codec_;
  const ArrayMetadata array_;
  const ShardLayout layout_;
  const ChunkRegion region_;
  const nlohmann::json attributes_;  // an object, or null for none
  // Shards a resumed session finds written with chunks not yet folded; constant after
  // RestoreState, which runs before any Process.
  std::set<std::string> already_written_;

  Mutex mu_;
  std::map<std::string, OpenShard> open_ GUARDED_BY(mu_);  // shards waiting for inner chunks
  bool stopped_ GUARDED_BY(mu_) = false;

  // Guarded by the pipeline's lock (Fold, SaveState, RestoreState).
  int64_t chunks_written_ = 0;
  int64_t shards_written_ = 0;
  // Shards written whose chunks are not all folded yet: key -> chunks still to fold.
  std::map<std::string, int64_t> acknowledging_;
};

}  // namespace

std::unique_ptr<ChunkConsumer> MakeShardWriter(std::shared_ptr<ChunkStore> sink,
                                               std::shared_ptr<const Codec> codec,
                                               ArrayMetadata sink_array, ChunkRegion region,
                                               nlohmann::json attributes) {
  return std::make_unique<ShardWriter>(std::move(sink), std::move(codec), std::move(sink_array),
                                       std::move(region), std::move(attributes));
}

}  // namespace batchd::pipeline
