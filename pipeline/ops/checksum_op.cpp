// {"op": "checksum", "source": {...}, "region": ..., "algorithm": "xxh64" | "crc32c"}: a digest
// of every decoded chunk of the region, as the array stores it after decoding (its own byte
// order, padding included: what numcodecs' decode returns), and a manifest result:
//   {"algorithm", "chunks", "missing", "digest", "manifest": [{"key", "digest"} | {"key",
//    "missing": true}, ...]}
// `digest` combines the chunk digests in region order (xxh64 of their concatenation as 16-hex
// strings, missing chunks as "-"), so two arrays with equal chunks give equal digests.
#include <cstdio>
#include <map>

#include "pipeline/ops/chunk_op.h"
#include "pipeline/ops/digest.h"

namespace batchd::pipeline {
namespace {

std::string Hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

struct Digest final : ChunkContribution {
  std::string key;
  std::optional<uint64_t> value;  // nullopt: the chunk is missing
};

class ChecksumConsumer final : public ChunkConsumer {
 public:
  explicit ChecksumConsumer(std::string algorithm) : algorithm_(std::move(algorithm)) {}

  bool NativeByteOrder() const override { return false; }

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    auto d = std::make_unique<Digest>();
    d->key = *chunk.key;
    if (!chunk.missing) {
      d->value = algorithm_ == "crc32c" ? uint64_t{Crc32c(chunk.data)} : XxHash64(chunk.data);
    }
    done(std::unique_ptr<ChunkContribution>(std::move(d)));
  }

  void Fold(int64_t number, ChunkContribution& c) override {
    auto& d = static_cast<Digest&>(c);
    entries_[number] = {std::move(d.key), d.value ? Hex(*d.value, digits()) : std::string("-")};
  }

  nlohmann::json SaveState() const override {
    nlohmann::json done = nlohmann::json::object();
    for (const auto& [number, e] : entries_) done[std::to_string(number)] = {e.key, e.digest};
    return {{"entries", std::move(done)}};
  }

  Status RestoreState(const nlohmann::json& state) override {
    try {
      for (const auto& [number, e] : state.at("entries").items()) {
        entries_[std::stoll(number)] = {e.at(0).get<std::string>(), e.at(1).get<std::string>()};
      }
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("checksum checkpoint: ") + e.what());
    }
    return Status::Ok();
  }

  void Finish(FinishDone done) override {
    nlohmann::json manifest = nlohmann::json::array();
    std::string all;
    int64_t missing = 0;
    for (const auto& [number, e] : entries_) {
      if (e.digest == "-") {
        ++missing;
        manifest.push_back({{"key", e.key}, {"missing", true}});
      } else {
        manifest.push_back({{"key", e.key}, {"digest", e.digest}});
      }
      all += e.digest;
    }
    const ByteView all_bytes(reinterpret_cast<const uint8_t*>(all.data()), all.size());
    done(nlohmann::json{{"algorithm", algorithm_},
                        {"chunks", static_cast<int64_t>(entries_.size())},
                        {"missing", missing},
                        {"digest", Hex(XxHash64(all_bytes), 16)},
                        {"manifest", std::move(manifest)}});
  }

 private:
  struct Entry {
    std::string key;
    std::string digest;  // hex, or "-" for a missing chunk
  };
  int digits() const { return algorithm_ == "crc32c" ? 8 : 16; }

  const std::string algorithm_;
  std::map<int64_t, Entry> entries_;  // guarded by the pipeline's lock; by chunk number
};

class ChecksumOp final : public ChunkOp {
 public:
  using ChunkOp::ChunkOp;
  static constexpr int64_t kMaxManifestChunks = 100'000;

 protected:
  // The result lists every chunk, and every checkpoint saves every digest so far.
  int64_t MaxChunks() const override { return kMaxManifestChunks; }

  Result<nlohmann::json> PrepareOp(const nlohmann::json& job, const ArrayMetadata&) const override {
    const nlohmann::json algorithm = job.value("algorithm", nlohmann::json("xxh64"));
    if (algorithm != "xxh64" && algorithm != "crc32c") {
      return Status::InvalidArgument(
          "\"algorithm\" must be \"xxh64\" or \"crc32c\", got " + algorithm.dump(), "/algorithm");
    }
    return nlohmann::json{{"algorithm", algorithm}};
  }

  Result<std::unique_ptr<ChunkConsumer>> MakeConsumer(const nlohmann::json& op,
                                                      const ArrayMetadata&, const ChunkRegion&,
                                                      bool) const override {
    return std::unique_ptr<ChunkConsumer>(
        std::make_unique<ChecksumConsumer>(op.value("algorithm", std::string("xxh64"))));
  }
};

}  // namespace

std::unique_ptr<Op> MakeChecksumOp(const ChunkServices& services) {
  return std::make_unique<ChecksumOp>(services);
}

}  // namespace batchd::pipeline
