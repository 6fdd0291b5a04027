// Transcode's consumer for a sharded zarr v3 sink (ArrayMetadata::shards): inner chunks stay the
// pipeline's unit, and each shard object is written once, whole, when all of its inner chunks in
// the session's region are encoded: the inner chunks in C order, then the index ((offset,
// nbytes) little-endian uint64 per inner chunk, (2^64 - 1, 2^64 - 1) for a missing one) and its
// CRC-32C. A shard whose inner chunks are all missing is not written (it reads as the fill
// value). The store's Put is atomic (file://: a temp file renamed; http/s3: one PUT), so a shard
// is either absent, or whole.
//
// Exact resume (docs/pipeline.md, "Sharded sinks"): an inner chunk is held — its Process does
// not call `done` — until its shard has been written, so the checkpoint never records an inner
// chunk done whose shard is not in the sink; its decoded size stays in the byte budget
// meanwhile, which bounds the encoded bytes held (the session visits the region shard by shard,
// ChunkRegion::Tiled, and transcode refuses a shard larger than limits.bytes_in_flight). A
// checkpoint taken between the `done`s of one shard's chunks saves that shard's key in the
// op's state ("acknowledging"): after a resume, its remaining chunks are counted but not
// written again (the shard already holds them). OnStop drops the chunks of unfinished shards.
//
// `region` must be the session's (aligned to shards: transcode checks it at Prepare).
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "pipeline/codecs/codec.h"
#include "pipeline/engine/chunk_consumer.h"
#include "pipeline/engine/chunk_region.h"
#include "pipeline/formats/array_metadata.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

// `sink_array.shards` must be set; `attributes` (an object, or null) go into its zarr.json,
// which Finish writes last. The result: {"sink", "chunks_written", "shards_written"}.
std::unique_ptr<ChunkConsumer> MakeShardWriter(std::shared_ptr<ChunkStore> sink,
                                               std::shared_ptr<const Codec> codec,
                                               ArrayMetadata sink_array, ChunkRegion region,
                                               nlohmann::json attributes);

}  // namespace batchd::pipeline
