// Process-wide counters of the chunk pipeline, for metrics (docs/metrics.md): chunks and bytes
// through every session's pipeline, and what is in flight right now.
//
// Process-wide on purpose: a pipeline lives for one session, and what an operator watches is
// the daemon's throughput; threading a counters object through every ChunkJob would reach into
// every chunk op for nothing. The counters are sharded (core/sharded_counter.h): a pipeline
// moves them from its fetch callbacks and decode threads without a lock of their own.
#pragma once

#include <cstdint>

#include "core/sharded_counter.h"

namespace batchd::pipeline {

struct ChunkPipelineStats {
  ShardedCounter chunks_done;        // decoded and folded into their session's result
  ShardedCounter chunks_failed;      // a read, decode or op error (which fails the session)
  ShardedCounter chunks_dropped;     // read but not processed: the session was canceled or failed
  ShardedCounter bytes_read;         // encoded bytes fetched from stores
  ShardedCounter bytes_decoded;      // decoded bytes of the chunks done
  ShardedCounter bytes_in_flight;    // gauge: budget reserved by chunks from read start to done
  ShardedCounter reads_in_flight;    // gauge: store reads issued, not yet answered
  ShardedCounter pipelines_running;  // gauge: sessions inside a chunk pipeline

  // The chunk pipeline's hooks (chunk_pipeline.cpp), one line each at its bookkeeping points.
  // A chunk's budget is reserved when it is taken, whether a store read or a decode thread's
  // direct read (ChunkStore::ReadNow) will get it, and let go in ChunkLeft.
  void Reserved(int64_t reserved_bytes) { bytes_in_flight.Add(reserved_bytes); }
  void ReadsIssued(int64_t reads) { reads_in_flight.Add(reads); }
  void ReadAnswered(int64_t encoded_bytes) {
    reads_in_flight.Add(-1);
    bytes_read.Add(encoded_bytes);
  }
  // Bytes decode threads read themselves (no store read in flight to count).
  void ReadDirectly(int64_t encoded_bytes) { bytes_read.Add(encoded_bytes); }
  enum class ChunkEnd { kDone, kFailed, kDropped };
  void ChunkLeft(ChunkEnd end, int64_t reserved_bytes) {
    bytes_in_flight.Add(-reserved_bytes);
    switch (end) {
      case ChunkEnd::kDone:
        chunks_done.Increment();
        bytes_decoded.Add(reserved_bytes);
        break;
      case ChunkEnd::kFailed:
        chunks_failed.Increment();
        break;
      case ChunkEnd::kDropped:
        chunks_dropped.Increment();
        break;
    }
  }
};

// The counters every pipeline in this process moves.
ChunkPipelineStats& GlobalChunkPipelineStats();

}  // namespace batchd::pipeline
