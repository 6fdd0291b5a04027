// {"op": "transcode", "source": {...}, "region": ..., "sink": {"url": "file:///out/a.zarr",
//  "codec": {"id": "zstd", "level": 3} | null, "separator": "." | "/",
//  "format": "zarr2" | "zarr3", "shards": [64, 64] | null}}: decodes every chunk of the region
// and writes it re-encoded with sink.codec to a zarr v2 array (the default) or a zarr v3 one at
// sink.url, with the source's shape, chunks, dtype (byte order included) and fill value. The
// metadata (`.zarray`, or `zarr.json`) is written last, in Finish, so a reader never sees
// metadata for chunks that are not there yet. Several sessions may write disjoint regions of
// one sink: their metadata documents are identical. The source's user attributes (zarr v2
// `.zattrs`, zarr v3 `attributes`: xarray's `_ARRAY_DIMENSIONS`, units, ...) are read at Prepare
// and written to the sink's `.zattrs` just before its `.zarray` (zarr v2), or into its zarr.json
// (zarr v3). Missing source chunks are not written (they read as the fill value in the sink too),
// so the sink should be empty or hold an earlier transcode of the same source.
//
// A zarr v2 sink inside a group with consolidated metadata (its parent holds `.zgroup` and
// `.zmetadata`, as zarr-python's consolidate_metadata leaves it) is added to that `.zmetadata`
// after its `.zarray` is written, so zarr.open_consolidated sees it. The op's one consolidation
// thread makes these read-modify-writes one at a time (sessions of one batch writing arrays of
// one group would otherwise lose each other's entries). A group without `.zmetadata` gets none:
// one listing only the new array would hide the others from open_consolidated.
//
// `shards` (zarr v3 only, and implied by it): the sink is sharded (sharding_indexed) with that
// shard shape, each entry a multiple of the chunk shape; the chunks become its inner chunks and
// shard_writer.h writes each shard whole. A shard's decoded bytes are bounded (kMaxShardBytes,
// and the session's limits.bytes_in_flight, which holds a shard's chunks until it is written),
// and a region must start and stop on shard boundaries (or the grid's end), so no two sessions
// write one shard.
#include "core/worker_pool.h"
#include "pipeline/formats/consolidated_metadata.h"
#include "pipeline/ops/chunk_op.h"
#include "pipeline/ops/shard_writer.h"
#include "pipeline/ops/zarr_sink.h"

namespace batchd::pipeline {
namespace {

// The most decoded bytes one shard of a sharded sink may hold: its inner chunks wait in memory
// (encoded) until the shard is complete.
constexpr int64_t kMaxShardBytes = int64_t{256} << 20;

// Submit-time shape of sink.shards: null, or a non-empty list of integers >= 1.
Status CheckShardsShape(const nlohmann::json& shards) {
  if (shards.is_null()) return Status::Ok();
  bool ok = shards.is_array() && !shards.empty();
  for (size_t d = 0; ok && d < shards.size(); ++d) {
    ok = shards[d].is_number_integer() && shards[d].get<int64_t>() >= 1;
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument(
      "\"shards\" must be null or the shard shape, a list of integers >= 1 (one per dimension, "
      "each a multiple of the chunk shape), got " +
      shards.dump());
}

Status CheckFormat(const nlohmann::json& format) {
  if (format.is_null() || format == "zarr2" || format == "zarr3") return Status::Ok();
  return Status::InvalidArgument("\"format\" of a sink must be \"zarr2\" or \"zarr3\", got " +
                                 format.dump());
}

struct Written final : ChunkContribution {
  bool wrote = false;
};

class TranscodeConsumer final : public ChunkConsumer {
 public:
  // `group` (may be null): the consolidated group the sink is member `member_name` of, updated
  // on `consolidations` (which outlives the consumer) once the .zarray is written.
  TranscodeConsumer(std::shared_ptr<ChunkStore> sink, std::shared_ptr<const Codec> codec,
                    ArrayMetadata sink_array, nlohmann::json attributes,
                    std::shared_ptr<ChunkStore> group, std::string member_name,
                    WorkerPool& consolidations)
      : zarr3_(sink_array.format == "zarr3"),
        sink_(std::move(sink)),
        codec_(std::move(codec)),
        sink_array_(std::move(sink_array)),
        attributes_(std::move(attributes)),
        group_(std::move(group)),
        member_name_(std::move(member_name)),
        consolidations_(consolidations) {}

  // The sink keeps the source's byte order, so chunks are re-encoded exactly as stored.
  bool NativeByteOrder() const override { return false; }

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    if (chunk.missing) return done(std::unique_ptr<ChunkContribution>(std::make_unique<Written>()));
    Bytes encoded;
    if (Status s = codec_->Encode(chunk.data, encoded); !s.ok()) return done(s);
    sink_->Put(sink_array_.keys.Key(chunk.coords), std::move(encoded),
               [done = std::move(done)](Status s) {
                 if (!s.ok()) return done(Status(s.code(), "writing to the sink: " + s.message()));
                 auto w = std::make_unique<Written>();
                 w->wrote = true;
                 done(std::unique_ptr<ChunkContribution>(std::move(w)));
               });
  }

  void Fold(int64_t, ChunkContribution& c) override {
    if (static_cast<Written&>(c).wrote) ++chunks_written_;
  }

  nlohmann::json SaveState() const override { return {{"chunks_written", chunks_written_}}; }

  Status RestoreState(const nlohmann::json& state) override {
    chunks_written_ = state.value("chunks_written", int64_t{0});
    return Status::Ok();
  }

  void Finish(FinishDone done) override {
    if (zarr3_) return WriteZarrJson(std::move(done));
    if (!attributes_.is_object()) return WriteArrayDocument(std::move(done));
    const std::string attrs = attributes_.dump();
    sink_->Put(".zattrs", Bytes(attrs.begin(), attrs.end()),
               [this, done = std::move(done), url = sink_->url()](Status s) mutable {
                 if (!s.ok())
                   return done(Status(s.code(), "writing " + url + "/.zattrs: " + s.message()));
                 WriteArrayDocument(std::move(done));
               });
  }

 private:
  // zarr v3: one document, with the attributes in it.
  void WriteZarrJson(FinishDone done) {
    Result<std::string> doc = ZarrV3ArrayDocument(sink_array_, attributes_);
    if (!doc.ok()) return done(doc.status());
    sink_->Put("zarr.json", Bytes(doc->begin(), doc->end()),
               [done = std::move(done), url = sink_->url(), written = chunks_written_](Status s) {
                 if (!s.ok())
                   return done(Status(s.code(), "writing " + url + "/zarr.json: " + s.message()));
                 done(nlohmann::json{{"sink", url}, {"chunks_written", written}});
               });
  }

  void WriteArrayDocument(FinishDone done) {
    const std::string doc = ZarrV2ArrayDocument(sink_array_);
    Bytes bytes(doc.begin(), doc.end());
    sink_->Put(".zarray", std::move(bytes),
               [this, done = std::move(done), doc, url = sink_->url(),
                written = chunks_written_](Status s) mutable {
                 if (!s.ok())
                   return done(Status(s.code(), "writing " + url + "/.zarray: " + s.message()));
                 nlohmann::json result = {{"sink", url}, {"chunks_written", written}};
                 if (!group_) return done(std::move(result));
                 Consolidate(nlohmann::json::parse(doc), std::move(result), std::move(done));
               });
  }

  // Off the store's thread (UpdateConsolidatedMetadata blocks), one group update at a time.
  void Consolidate(nlohmann::json zarray, nlohmann::json result, FinishDone done) {
    consolidations_.SubmitAlways([group = group_, name = member_name_, attrs = attributes_,
                                  zarray = std::move(zarray), result = std::move(result),
                                  done = std::move(done)]() mutable {
      Status s = UpdateConsolidatedMetadata(*group, name, zarray, attrs);
      if (!s.ok()) return done(s);
      result["consolidated"] = group->url() + "/.zmetadata";
      done(std::move(result));
    });
  }

  const bool zarr3_;  // the sink is zarr v3 (zarr.json), else zarr v2 (.zarray, .zattrs)
  const std::shared_ptr<ChunkStore> sink_;
  const std::shared_ptr<const Codec> codec_;
  const ArrayMetadata sink_array_;
  const nlohmann::json attributes_;          // an object, or null for none
  const std::shared_ptr<ChunkStore> group_;  // null: no consolidated metadata to update
  const std::string member_name_;
  WorkerPool& consolidations_;
  int64_t chunks_written_ = 0;  // guarded by the pipeline's lock
};

class TranscodeOp final : public ChunkOp {
 public:
  using ChunkOp::ChunkOp;

  std::vector<std::string> SubmitCheckedMembers() const override {
    std::vector<std::string> members = ChunkOp::SubmitCheckedMembers();
    members.push_back("/sink/url");
    members.push_back("/sink/shards");
    members.push_back("/sink/format");
    return members;
  }

  Status CheckMember(std::string_view pointer, const nlohmann::json& value) const override {
    if (pointer == "/sink/shards") return CheckShardsShape(value);
    if (pointer == "/sink/format") return CheckFormat(value);
    return ChunkOp::CheckMember(pointer, value);
  }

 protected:
  Result<nlohmann::json> PrepareOp(const nlohmann::json& job,
                                   const ArrayMetadata& array) const override {
    auto sink = job.find("sink");
    if (sink == job.end() || !sink->is_object() || !sink->contains("url") ||
        !(*sink)["url"].is_string()) {
      return Status::InvalidArgument(
          "transcode needs \"sink\": {\"url\": \"file:///...\", \"codec\": {...}}", "/sink");
    }
    const std::string url = (*sink)["url"].get<std::string>();
    Result<std::shared_ptr<ChunkStore>> store = services_.stores.Open(url);
    if (!store.ok()) return Status(store.status().code(), store.status().message(), "/sink/url");
    (*store)->LimitValueBytes(ChunkServices::kMaxMetadataBytes);  // it reads the sink's .zarray

    const nlohmann::json codec_config = sink->value("codec", nlohmann::json());
    Result<std::unique_ptr<const Codec>> codec = services_.codecs.Create(
        codec_config.is_null() ? nlohmann::json{{"id", "raw"}} : codec_config,
        {.element_size = static_cast<size_t>(array.dtype.size)});
    if (!codec.ok()) return Status::InvalidArgument(codec.status().message(), "/sink/codec");

    const nlohmann::json shards = sink->value("shards", nlohmann::json());
    if (Status s = CheckShardsShape(shards); !s.ok()) {
      return Status::InvalidArgument(s.message(), "/sink/shards");
    }
    const nlohmann::json format_member = sink->value("format", nlohmann::json());
    if (Status s = CheckFormat(format_member); !s.ok()) {
      return Status::InvalidArgument(s.message(), "/sink/format");
    }
    const std::string format = format_member.is_string() ? format_member.get<std::string>()
                               : shards.is_null()        ? "zarr2"
                                                         : "zarr3";
    if (format == "zarr2" && !shards.is_null()) {
      return Status::InvalidArgument(
          "a zarr v2 sink cannot be sharded: \"shards\" needs \"format\": \"zarr3\"",
          "/sink/shards");
    }
    const bool zarr3 = format == "zarr3";
    const std::string separator = sink->value("separator", std::string(zarr3 ? "/" : "."));
    if (separator != "." && separator != "/") {
      return Status::InvalidArgument("\"separator\" must be \".\" or \"/\"", "/sink/separator");
    }
    ArrayMetadata out = array;
    out.format = format;
    out.codec = (*codec)->ToJson();
    out.filters = nlohmann::json::array();  // the sink holds the decoded elements, in C order
    out.outer_codecs = nlohmann::json::array();
    out.shards.reset();  // a sharded source's inner chunks become the sink's chunks
    if (out.codec.value("id", std::string()) == "crc32c") {
      return Status::InvalidArgument(
          "crc32c is a zarr v3 checksum codec; a zarr v2 sink's compressor cannot be it",
          "/sink/codec");
    }
    out.keys = {.prefix = zarr3 ? "c" : "", .separator = separator[0]};
    if (zarr3) {
      if (!shards.is_null()) {
        ASSIGN_OR_RETURN(out.shards, ShardLayoutFor(shards, out));
      }
    } else {
      out.fill_value = FillValueForZarrV2(array);
    }
    ASSIGN_OR_RETURN(nlohmann::json attributes, SourceAttributes(job, array));
    if (zarr3) {
      // Refuses, before anything is written, a codec zarr v3 cannot name.
      if (Result<std::string> doc = ZarrV3ArrayDocument(out, attributes); !doc.ok()) {
        return Status::InvalidArgument(doc.status().message(), "/sink/codec");
      }
    }
    RETURN_IF_ERROR(CheckSinkIsCompatible(**store, out, "transcode"));
    nlohmann::json prepared = {
        {"sink", {{"url", url}, {"array", out.ToJson()}, {"attributes", attributes}}}};
    if (!zarr3) {
      ASSIGN_OR_RETURN(std::optional<GroupMember> group, ConsolidatedGroupOf(url));
      if (group) {
        prepared["sink"]["group"] = {{"url", group->group_url}, {"member", group->name}};
      }
    }
    return prepared;
  }

  // A sharded sink is visited shard by shard, so that a shard's chunks come together and the
  // budget holds few shards at a time; each shard is written by one session only.
  Result<std::vector<int64_t>> VisitTile(const nlohmann::json& op, const ArrayMetadata& array,
                                         const ChunkRegion& region,
                                         const PipelineLimits& limits) const override {
    ASSIGN_OR_RETURN(ArrayMetadata out,
                     ArrayMetadata::FromJson(op.at("sink").value("array", nlohmann::json())));
    if (!out.shards) return std::vector<int64_t>();
    const std::vector<int64_t>& per_shard = out.shards->chunks_per_shard;
    const std::vector<int64_t> grid = array.GridShape();
    for (size_t d = 0; d < per_shard.size(); ++d) {
      const bool aligned = region.start()[d] % per_shard[d] == 0 &&
                           (region.stop()[d] % per_shard[d] == 0 || region.stop()[d] == grid[d]);
      if (!aligned) {
        return Status::InvalidArgument(
            "region dimension " + std::to_string(d) + " is [" + std::to_string(region.start()[d]) +
                ", " + std::to_string(region.stop()[d]) +
                "]; a sharded sink is written whole shards at a time, so it must start and stop "
                "on multiples of " +
                std::to_string(per_shard[d]) + " chunks (a shard) or at the grid's end (" +
                std::to_string(grid[d]) + ")",
            "/region/" + std::to_string(d));
      }
    }
    const int64_t shard_bytes = out.shards->InnerChunks() * static_cast<int64_t>(out.ChunkBytes());
    if (shard_bytes > limits.bytes_in_flight) {
      return Status::InvalidArgument(
          "a shard holds " + std::to_string(shard_bytes) +
              " decoded bytes, more than limits.bytes_in_flight (" +
              std::to_string(limits.bytes_in_flight) +
              "), which must hold one shard's chunks until it is written: raise bytes_in_flight "
              "or choose smaller shards",
          "/sink/shards");
    }
    return per_shard;
  }

  Result<std::unique_ptr<ChunkConsumer>> MakeConsumer(const nlohmann::json& op,
                                                      const ArrayMetadata&,
                                                      const ChunkRegion& region,
                                                      bool resumed) const override {
    const nlohmann::json sink = op.value("sink", nlohmann::json());
    ASSIGN_OR_RETURN(ArrayMetadata out,
                     ArrayMetadata::FromJson(sink.value("array", nlohmann::json())));
    ASSIGN_OR_RETURN(std::shared_ptr<ChunkStore> store,
                     services_.stores.Open(sink.value("url", std::string())));
    if (resumed) {
      // An interrupted run may have died in the middle of a put: its temp file is not a chunk
      // (puts are atomic), but it must not stay behind in the user's array.
      RETURN_IF_ERROR(store->RemoveStaleTempFiles().status());
    }
    ASSIGN_OR_RETURN(
        std::unique_ptr<const Codec> codec,
        services_.codecs.Create(out.codec, {.element_size = static_cast<size_t>(out.dtype.size)}));
    if (out.shards) {
      return MakeShardWriter(std::move(store), std::shared_ptr<const Codec>(std::move(codec)),
                             std::move(out), region, sink.value("attributes", nlohmann::json()));
    }
    std::shared_ptr<ChunkStore> group;
    const nlohmann::json group_json = sink.value("group", nlohmann::json());
    if (group_json.is_object()) {
      ASSIGN_OR_RETURN(group, services_.stores.Open(group_json.value("url", std::string())));
      group->LimitValueBytes(ChunkServices::kMaxMetadataBytes);
    }
    return std::unique_ptr<ChunkConsumer>(std::make_unique<TranscodeConsumer>(
        std::move(store), std::shared_ptr<const Codec>(std::move(codec)), std::move(out),
        sink.value("attributes", nlohmann::json()), std::move(group),
        group_json.is_object() ? group_json.value("member", std::string()) : std::string(),
        consolidations_));
  }

 private:
  // The group whose consolidated metadata a zarr v2 sink at `url` must join: its parent, when
  // that opens as a store and holds both .zgroup and .zmetadata; nullopt otherwise (no parent,
  // one this daemon may not reach, or not a consolidated group). Errors are the parent's
  // reads'.
  Result<std::optional<GroupMember>> ConsolidatedGroupOf(const std::string& url) const {
    std::optional<GroupMember> member = ParentGroupOf(url);
    if (!member) return std::optional<GroupMember>();
    Result<std::shared_ptr<ChunkStore>> parent = services_.stores.Open(member->group_url);
    if (!parent.ok()) return std::optional<GroupMember>();
    (*parent)->LimitValueBytes(ChunkServices::kMaxMetadataBytes);
    for (const char* key : {".zgroup", ".zmetadata"}) {
      Result<std::optional<Bytes>> doc = ReadKey(**parent, key);
      if (!doc.ok()) {
        return Status(doc.status().code(),
                      "reading " + member->group_url + "/" + key + ": " + doc.status().message(),
                      "/sink/url");
      }
      if (!*doc) return std::optional<GroupMember>();
    }
    return member;
  }

  // One thread: consolidated metadata updates run one at a time (see the top of the file).
  mutable WorkerPool consolidations_{1, 1024};

  // sink.shards (a list of integers >= 1) against the sink's chunks (the source's, or its inner
  // chunks): same rank, each a multiple of the chunk shape, at most kMaxShardBytes decoded and
  // kMaxInnerChunksPerShard inner chunks. Errors name /sink/shards.
  static Result<ShardLayout> ShardLayoutFor(const nlohmann::json& shards,
                                            const ArrayMetadata& out) {
    const std::vector<int64_t> shape = shards.get<std::vector<int64_t>>();
    const std::string shown = shards.dump();
    const std::string chunks = nlohmann::json(out.chunk_shape).dump();
    if (static_cast<int>(shape.size()) != out.rank()) {
      return Status::InvalidArgument("\"shards\" " + shown +
                                         " must have one entry per dimension (" +
                                         std::to_string(out.rank()) + " for this array)",
                                     "/sink/shards");
    }
    ShardLayout layout{.chunks_per_shard = {}, .index_at_start = false, .index_crc32c = true};
    int64_t inner = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] % out.chunk_shape[d] != 0) {
        return Status::InvalidArgument(
            "\"shards\" " + shown + " must be a multiple of the chunk shape " + chunks +
                " along every dimension (dimension " + std::to_string(d) + " is not)",
            "/sink/shards");
      }
      layout.chunks_per_shard.push_back(shape[d] / out.chunk_shape[d]);
      inner = layout.chunks_per_shard.back() > kMaxInnerChunksPerShard / inner
                  ? kMaxInnerChunksPerShard + 1
                  : inner * layout.chunks_per_shard.back();
    }
    if (inner > kMaxInnerChunksPerShard ||
        inner > kMaxShardBytes / static_cast<int64_t>(out.ChunkBytes())) {
      return Status::InvalidArgument(
          "a shard of " + shown + " holds more than " + std::to_string(kMaxShardBytes >> 20) +
              " MiB of decoded elements (or more than " + std::to_string(kMaxInnerChunksPerShard) +
              " chunks of " + chunks + "): choose smaller shards",
          "/sink/shards");
    }
    return layout;
  }

  // The source array's user attributes: its .zattrs (zarr v2) or zarr.json's "attributes"
  // (zarr v3), null when it has none (or is raw). A .zattrs that is not a JSON object is an
  // error naming it, rather than attributes silently lost.
  Result<nlohmann::json> SourceAttributes(const nlohmann::json& job,
                                          const ArrayMetadata& array) const {
    if (array.format != "zarr2" && array.format != "zarr3") return nlohmann::json();
    const std::string url = job.at("source").at("url").get<std::string>();
    ASSIGN_OR_RETURN(std::shared_ptr<ChunkStore> source, services_.stores.Open(url));
    source->LimitValueBytes(ChunkServices::kMaxMetadataBytes);
    const std::string key = array.format == "zarr2" ? ".zattrs" : "zarr.json";
    ASSIGN_OR_RETURN(std::optional<Bytes> bytes, ReadKey(*source, key));
    if (!bytes) return nlohmann::json();
    nlohmann::json doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
    if (array.format == "zarr3" && doc.is_object()) {
      doc = doc.value("attributes", nlohmann::json());
      if (doc.is_null()) return doc;
    }
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument(url + "/" + key + ": the attributes are not a JSON object",
                                     "/source/url");
    }
    return doc;
  }
};

}  // namespace

std::unique_ptr<Op> MakeTranscodeOp(const ChunkServices& services) {
  return std::make_unique<TranscodeOp>(services);
}

}  // namespace batchd::pipeline
