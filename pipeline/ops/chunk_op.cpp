#include "pipeline/ops/chunk_op.h"

#include <algorithm>

#include "pipeline/formats/sharded_reader.h"

namespace batchd::pipeline {
namespace {

// The job's source URL: "/source/url" must be a string.
Result<std::string> SourceUrl(const nlohmann::json& job) {
  auto source = job.find("source");
  if (source == job.end() || !source->is_object()) {
    return Status::InvalidArgument(
        "the job needs \"source\": {\"url\": \"file:///...\" or \"http://...\"}", "/source");
  }
  auto url = source->find("url");
  if (url == source->end() || !url->is_string()) {
    return Status::InvalidArgument("\"source.url\" must be a string naming the array",
                                   "/source/url");
  }
  return url->get<std::string>();
}

Result<int64_t> Limit(const nlohmann::json& limits, const char* name, int64_t fallback, int64_t min,
                      int64_t max) {
  auto it = limits.find(name);
  if (it == limits.end() || it->is_null()) return fallback;
  const std::string path = std::string("/limits/") + name;
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    return Status::InvalidArgument(std::string("\"") + name + "\" must be an integer from " +
                                       std::to_string(min) + " to " + std::to_string(max) +
                                       ", got " + it->dump(),
                                   path);
  }
  return it->get<int64_t>();
}

// The job's limits over the daemon's defaults; a source store that wants fewer reads in flight
// than the default (ChunkStore::DefaultFetchConcurrency: http) gets them unless the job asks.
Result<PipelineLimits> ParseLimits(const nlohmann::json& job, const ChunkServices& services,
                                   const ChunkStore& source) {
  PipelineLimits limits = services.defaults;
  if (int wish = source.DefaultFetchConcurrency(); wish > 0) {
    limits.fetch_concurrency = std::min(limits.fetch_concurrency, wish);
  }
  auto it = job.find("limits");
  if (it == job.end() || it->is_null()) return limits;
  if (!it->is_object()) {
    return Status::InvalidArgument(
        "\"limits\" must be an object: {\"fetch_concurrency\", \"bytes_in_flight\"}", "/limits");
  }
  ASSIGN_OR_RETURN(int64_t fetch, Limit(*it, "fetch_concurrency", limits.fetch_concurrency, 1,
                                        services.max_fetch_concurrency));
  ASSIGN_OR_RETURN(limits.bytes_in_flight, Limit(*it, "bytes_in_flight", limits.bytes_in_flight,
                                                 4096, services.max_bytes_in_flight));
  limits.fetch_concurrency = static_cast<int>(fetch);
  return limits;
}

nlohmann::json LimitsJson(const PipelineLimits& limits) {
  return {{"fetch_concurrency", limits.fetch_concurrency},
          {"bytes_in_flight", limits.bytes_in_flight},
          {"checkpoint_interval_ms", limits.checkpoint_interval_ms}};
}

Result<PipelineLimits> LimitsFromJson(const nlohmann::json& json) {
  try {
    return PipelineLimits{
        .fetch_concurrency = json.at("fetch_concurrency").get<int>(),
        .bytes_in_flight = json.at("bytes_in_flight").get<int64_t>(),
        .checkpoint_interval_ms = json.at("checkpoint_interval_ms").get<int64_t>()};
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("stored limits: ") + e.what());
  }
}

}  // namespace

Result<nlohmann::json> ChunkOp::Prepare(const nlohmann::json& job) const {
  ASSIGN_OR_RETURN(std::string url, SourceUrl(job));
  Result<std::shared_ptr<ChunkStore>> store = services_.stores.Open(url);
  if (!store.ok()) {
    return Status(store.status().code(), store.status().message(), "/source/url");
  }
  (*store)->LimitValueBytes(ChunkServices::kMaxMetadataBytes);
  ASSIGN_OR_RETURN(ArrayMetadata array, services_.formats.Open(**store, job["source"]));
  ASSIGN_OR_RETURN(ChunkRegion region,
                   ChunkRegion::Parse(job.value("region", nlohmann::json()), array, "/region"));
  ASSIGN_OR_RETURN(PipelineLimits limits, ParseLimits(job, services_, **store));
  RETURN_IF_ERROR(CheckSessionBounds(array, region));
  ASSIGN_OR_RETURN(nlohmann::json op, PrepareOp(job, array));
  ASSIGN_OR_RETURN(std::vector<int64_t> tile, VisitTile(op, array, region, limits));
  if (!tile.empty()) region = region.Tiled(std::move(tile));
  return nlohmann::json{{"array", array.ToJson()},
                        {"region", region.ToJson()},
                        {"chunks_total", region.size()},
                        {"limits", LimitsJson(limits)},
                        {"op", std::move(op)}};
}

Status ChunkOp::CheckSessionBounds(const ArrayMetadata& array, const ChunkRegion& region) const {
  const auto chunk_bytes = static_cast<int64_t>(array.ChunkBytes());
  if (chunk_bytes > services_.max_chunk_bytes) {
    return Status::InvalidArgument(
        "a decoded chunk of " + std::to_string(chunk_bytes) + " bytes (chunk shape " +
        nlohmann::json(array.chunk_shape).dump() + ") is over the limit of " +
        std::to_string(services_.max_chunk_bytes) + " bytes per chunk (--max-chunk-bytes)");
  }
  if (region.size() > services_.max_session_chunks) {
    return Status::InvalidArgument("the region covers " + std::to_string(region.size()) +
                                   " chunks, over the limit of " +
                                   std::to_string(services_.max_session_chunks) +
                                   " chunks per session (--max-session-chunks)");
  }
  if (region.size() > MaxChunks()) {
    return Status::InvalidArgument("the region covers " + std::to_string(region.size()) +
                                   " chunks, over this op's limit of " +
                                   std::to_string(MaxChunks()) + " chunks per session");
  }
  return Status::Ok();
}

std::vector<std::string> ChunkOp::SubmitCheckedMembers() const {
  return {"/source/url", "/region"};
}

Status ChunkOp::CheckMember(std::string_view pointer, const nlohmann::json& value) const {
  if (pointer == "/region") {
    if (value.is_null()) return Status::Ok();
    if (!value.is_array()) {
      return Status::InvalidArgument(
          "\"region\" must be null or a list of [start, stop] chunk "
          "ranges, got " +
          value.dump());
    }
    for (size_t d = 0; d < value.size(); ++d) {
      const nlohmann::json& pair = value[d];
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() ||
          !pair[1].is_number_integer() || pair[0].get<int64_t>() < 0 ||
          pair[0].get<int64_t>() >= pair[1].get<int64_t>()) {
        return Status::InvalidArgument("region dimension " + std::to_string(d) +
                                       " must be [start, stop] with 0 <= start < stop, got " +
                                       pair.dump());
      }
    }
    return Status::Ok();
  }
  if (pointer.ends_with("/url")) {
    if (!value.is_string()) {
      return Status::InvalidArgument("a store URL must be a string, got " + value.dump());
    }
    const Status opened = services_.stores.Open(value.get<std::string>()).status();
    return opened.ok() ? opened : Status::InvalidArgument(opened.message());
  }
  return Status::Ok();
}

Result<nlohmann::json> ChunkOp::PrepareOp(const nlohmann::json&, const ArrayMetadata&) const {
  return nlohmann::json::object();
}

Result<std::vector<int64_t>> ChunkOp::VisitTile(const nlohmann::json&, const ArrayMetadata&,
                                                const ChunkRegion&, const PipelineLimits&) const {
  return std::vector<int64_t>();
}

void ChunkOp::Run(const OpContext& ctx, OpDone done) const {
  auto fail = [&](const Status& s) { done(OpOutcome::Failed(s)); };
  const nlohmann::json& resolved = *ctx.resolved;
  Result<ArrayMetadata> array = ArrayMetadata::FromJson(resolved.value("array", nlohmann::json()));
  if (!array.ok()) return fail(array.status());
  Result<ChunkRegion> region =
      ChunkRegion::FromJson(resolved.value("region", nlohmann::json()), *array);
  if (!region.ok()) return fail(region.status());
  Result<PipelineLimits> limits = LimitsFromJson(resolved.value("limits", nlohmann::json()));
  if (!limits.ok()) return fail(limits.status());
  Result<std::string> url = SourceUrl(*ctx.job);
  if (!url.ok()) return fail(url.status());
  Result<std::shared_ptr<ChunkStore>> store = services_.stores.Open(*url);
  if (!store.ok()) return fail(store.status());
  // A sharded array is read per inner chunk through a view that finds them in their shards.
  if (array->shards) *store = OpenShardedReader(std::move(*store), *array);
  Result<std::shared_ptr<const ChunkCodecChain>> codec =
      ChunkCodecChain::Create(services_.codecs, *array);
  if (!codec.ok()) return fail(codec.status());
  (*store)->LimitValueBytes(MaxStoredChunkBytes(
      std::max(array->ChunkBytes(), (*codec)->StoredBytes(array->ChunkBytes()))));
  Result<std::unique_ptr<ChunkConsumer>> consumer =
      MakeConsumerFor(ctx, resolved.value("op", nlohmann::json::object()), *array, *region,
                      ctx.attempt > 1 || (ctx.checkpoint && !ctx.checkpoint->is_null()));
  if (!consumer.ok()) return fail(consumer.status());

  std::optional<ChunkCheckpoint> resume;
  if (ctx.checkpoint && !ctx.checkpoint->is_null()) {
    Result<ChunkCheckpoint> cp = ChunkCheckpoint::FromJson(*ctx.checkpoint, region->size());
    if (!cp.ok()) return fail(Status::Internal("stored checkpoint: " + cp.status().message()));
    resume = std::move(*cp);
  }
  const int64_t total = region->size();
  ChunkJob job{.store = std::move(*store),
               .array = std::move(*array),
               .region = std::move(*region),
               .codec = std::move(*codec),
               .limits = *limits,
               .consumer = std::move(*consumer),
               .cancel = ctx.cancel,
               .resume = std::move(resume),
               .save_checkpoint =
                   [save = ctx.save_checkpoint, total](const ChunkCheckpoint& cp) {
                     if (save) save({cp.cursor.done(), total, cp.ToJson()});
                   },
               .report_live_progress = ctx.live_progress};
  RunChunkPipeline(std::move(job), services_.decode, services_.decode_threads, std::move(done));
}

uint64_t MaxStoredChunkBytes(uint64_t decoded) {
  return decoded + decoded / 16 + (uint64_t{64} << 10);
}

void RegisterChunkOps(OpRegistry& registry, const ChunkServices& services) {
  registry.Register("stats", MakeStatsOp(services));
  registry.Register("checksum", MakeChecksumOp(services));
  registry.Register("transcode", MakeTranscodeOp(services));
}

}  // namespace batchd::pipeline
