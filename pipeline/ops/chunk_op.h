// Ops that run over an array's chunks (stats, checksum, transcode). They share how a job names
// its data and how a session runs:
//
//   {"op": "stats", "source": {"url": "file:///data/a.zarr/t2m", "format": "auto"},
//    "region": [[0, 8], [0, 16]] | null,
//    "limits": {"fetch_concurrency": 64, "bytes_in_flight": 67108864}}
//
// Prepare (at dequeue) opens the source, reads its metadata and resolves the region, so the
// execution state holds everything the session needs; Run builds the op's ChunkConsumer and
// runs the chunk pipeline, resuming from the session's checkpoint if it has one.
//
// Recipe for a new chunk op: subclass ChunkOp, implement MakeConsumer (and PrepareOp if the op
// has its own members to check, like transcode's sink), and register it in RegisterChunkOps.
// stats_op.cpp is the reference.
#pragma once

#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/worker_pool.h"
#include "pipeline/codecs/codec.h"
#include "pipeline/engine/chunk_pipeline.h"
#include "pipeline/formats/array_format.h"
#include "pipeline/ops/op_registry.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

// What chunk ops share; owned by `batchd serve`, outliving every session.
struct ChunkServices {
  const StoreRegistry& stores;
  const FormatRegistry& formats;
  const CodecRegistry& codecs;
  WorkerPool& decode;       // the decode pool, shared by all sessions
  int decode_threads = 1;   // its size
  PipelineLimits defaults;  // when a job sets no "limits"
  // Upper bounds a job may ask for.
  int max_fetch_concurrency = 1024;
  int64_t max_bytes_in_flight = int64_t{1} << 32;
  // Bounds on what an array may make a session do, checked at Prepare before anything is
  // allocated per chunk; past them the session ends in a permanent error naming the limit.
  int64_t max_chunk_bytes = kDefaultMaxChunkBytes;        // one decoded chunk
  int64_t max_session_chunks = kDefaultMaxSessionChunks;  // chunks in a session's region

  static constexpr int64_t kDefaultMaxChunkBytes = int64_t{128} << 20;
  // A metadata document (.zarray, zarr.json) larger than this is refused unread.
  static constexpr uint64_t kMaxMetadataBytes = uint64_t{16} << 20;
  static constexpr int64_t kDefaultMaxSessionChunks = int64_t{1} << 32;
};

class ChunkOp : public Op {
 public:
  explicit ChunkOp(const ChunkServices& services) : services_(services) {}

  // {"array": ArrayMetadata, "region": ChunkRegion, "chunks_total": N, "limits": {...},
  //  "op": PrepareOp(...)}. Errors carry the JSON Pointer of the job member at fault
  // ("/source/url", "/region/1", "/limits/bytes_in_flight") or name the metadata document.
  Result<nlohmann::json> Prepare(const nlohmann::json& job) const final;

  // At submit: "/source/url" must open a store (a known scheme, inside the file roots; no
  // I/O), "/region" must be null or a list of [start, stop] integer pairs with 0 <= start <
  // stop. Bounds against the array's grid need its metadata: checked at dequeue.
  std::vector<std::string> SubmitCheckedMembers() const override;
  Status CheckMember(std::string_view pointer, const nlohmann::json& value) const override;

  void Run(const OpContext& ctx, OpDone done) const final;

 protected:
  // The op's own resolved members. Default: none ({}).
  virtual Result<nlohmann::json> PrepareOp(const nlohmann::json& job,
                                           const ArrayMetadata& array) const;

  // How a session visits its region: a tile shape (one entry per dimension, in chunks) to visit
  // it tile by tile (ChunkRegion::Tiled), or empty for C order. Called at Prepare after
  // PrepareOp, with what it returned, the region and the limits; errors fail the session and
  // carry the JSON Pointer of the job member at fault. Default: C order.
  virtual Result<std::vector<int64_t>> VisitTile(const nlohmann::json& op_resolved,
                                                 const ArrayMetadata& array,
                                                 const ChunkRegion& region,
                                                 const PipelineLimits& limits) const;

  // The most chunks one session of this op may cover (its result or state grows with them);
  // the daemon's max_session_chunks applies too. Default: no bound of the op's own.
  virtual int64_t MaxChunks() const { return INT64_MAX; }

  // The consumer for one run of a session; `op_resolved` is what PrepareOp returned, `region`
  // the session's (tiled when VisitTile asked).
  // `resumed`: the session ran before (a retry, or a restart after a crash), so it may find
  // what an interrupted run left behind. Runs on a scheduler thread, which may block briefly.
  virtual Result<std::unique_ptr<ChunkConsumer>> MakeConsumer(const nlohmann::json& op_resolved,
                                                              const ArrayMetadata& array,
                                                              const ChunkRegion& region,
                                                              bool resumed) const = 0;
  // The same, for ops whose consumer needs the session's context (the command op's chunk
  // stream: its program's environment and its cancel). Default: MakeConsumer.
  virtual Result<std::unique_ptr<ChunkConsumer>> MakeConsumerFor(const OpContext& ctx,
                                                                 const nlohmann::json& op_resolved,
                                                                 const ArrayMetadata& array,
                                                                 const ChunkRegion& region,
                                                                 bool resumed) const {
    return MakeConsumer(op_resolved, array, region, resumed);
  }

  const ChunkServices& services_;

 private:
  // The chunk size and chunk count bounds (ChunkServices, MaxChunks).
  Status CheckSessionBounds(const ArrayMetadata& array, const ChunkRegion& region) const;
};

// The most bytes one stored (encoded) chunk may take, given what its bytes codec decodes it to
// (the array's chunk size, or what the last filter stores when that is larger), plus what
// any supported codec may add when data does not compress (lz4 n/255 + 16, zstd about n/128,
// blosc 16 + its header), rounded up: decoded + decoded/16 + 64 KiB. A stored value over it is
// refused before it is read (ChunkStore::LimitValueBytes), so what a store holds or sends
// cannot make a session read more than about its chunk size.
uint64_t MaxStoredChunkBytes(uint64_t decoded);

// Registers stats, checksum and transcode. `services` must outlive the registry.
void RegisterChunkOps(OpRegistry& registry, const ChunkServices& services);

// Factories for RegisterChunkOps (one file each).
std::unique_ptr<Op> MakeStatsOp(const ChunkServices& services);
std::unique_ptr<Op> MakeChecksumOp(const ChunkServices& services);
std::unique_ptr<Op> MakeTranscodeOp(const ChunkServices& services);

}  // namespace batchd::pipeline
