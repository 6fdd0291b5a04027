// Reads the inner chunks of a sharded zarr v3 array (ArrayMetadata::shards) as if each were a
// value of its own, so that the chunk pipeline, unchanged, works per inner chunk: progress,
// the byte budget, resume and the region all count inner chunks.
//
// The reader is a ChunkStore over the array's store whose keys are inner chunk names: the
// array's key encoding applied to an inner chunk's grid coordinates (what the pipeline asks
// for; ParseChunkKey takes them back). For each shard among a GetMany's keys it reads the
// shard's index with one range request (the first or last IndexBytes() bytes), then the inner
// chunks asked for with one GetRanges, whose neighbours the store merges into few reads. An
// inner chunk whose index entry says missing, and every inner chunk of a missing shard, reads
// as nullopt (the fill value). Indexes recently read are kept (a few MiB at most), so a shard
// whose inner chunks come in several windows has its index read once.
//
// Bad shards end their inner chunks' reads with kCorrupt naming the shard key and what is
// wrong: an index shorter than IndexBytes(), a CRC-32C that does not match, an entry with one
// of offset or nbytes missing, an inner chunk of 0 bytes or larger than the value bound
// (LimitValueBytes: the stored size of one inner chunk), or a range past the shard's end.
// Store errors keep their code, prefixed with the shard. Read-only: Put fails.
//
// Unlike a store's, some callbacks run on the calling thread of GetMany: keys that name no
// inner chunk, and inner chunks a kept index already says are missing (or bad). The chunk
// pipeline issues reads without holding its lock, which is all that needs.
#pragma once

#include <memory>

#include "pipeline/formats/array_metadata.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

// `array.shards` must be set. The reader keeps `shards` (the array's store).
std::shared_ptr<ChunkStore> OpenShardedReader(std::shared_ptr<ChunkStore> shards,
                                              const ArrayMetadata& array);

}  // namespace batchd::pipeline
