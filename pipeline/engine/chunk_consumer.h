// The op's side of the chunk pipeline (chunk_pipeline.h): what a chunk op does with each
// decoded chunk, how one chunk's contribution joins the session's state, and what the session
// ends with. stats_op.cpp is the reference implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/bytes.h"
#include "pipeline/formats/array_metadata.h"

namespace batchd::pipeline {

// One decoded chunk, as the consumer sees it. Valid only during the Process call.
struct DecodedChunk {
  int64_t number = 0;                // its position in the session's region (ChunkRegion)
  std::span<const int64_t> coords;   // chunk grid coordinates
  std::span<const int64_t> extent;   // data elements along each dimension; the rest is padding
  const std::string* key = nullptr;  // its store key
  // A full chunk (padding included), in native byte order unless the consumer asked for the
  // stored order (ChunkConsumer::NativeByteOrder). Writable: consumers may work in place.
  MutableByteView data;
  bool missing = false;  // the chunk does not exist in the store: `data` is the fill value
};

// What one chunk adds to the session's state, computed off the pipeline's lock.
class ChunkContribution {
 public:
  virtual ~ChunkContribution() = default;
};

class ChunkConsumer {
 public:
  using ProcessDone = std::function<void(Result<std::unique_ptr<ChunkContribution>>)>;
  using FinishDone = std::function<void(Result<nlohmann::json>)>;

  virtual ~ChunkConsumer() = default;

  // False for consumers that want the bytes exactly as the array stores them after decoding
  // (checksums of the stored representation, transcode preserving the byte order).
  virtual bool NativeByteOrder() const { return true; }

  // Works on one chunk, on a decode thread, concurrently with other chunks of the session.
  // Calls `done` exactly once, possibly later and from another thread (transcode's writes), with
  // the chunk's contribution or an error (the pipeline adds the chunk's key to its message).
  virtual void Process(const DecodedChunk& chunk, ProcessDone done) = 0;

  // Adds a contribution to the session's state. Called under the pipeline's lock, once per
  // chunk, in any order; must be quick.
  virtual void Fold(int64_t number, ChunkContribution& contribution) = 0;

  // The session's state, exactly as folded so far, for a checkpoint (under the pipeline's
  // lock), and back, when a session resumes from one.
  virtual nlohmann::json SaveState() const = 0;
  virtual Status RestoreState(const nlohmann::json& state) = 0;

  // Called once, without the pipeline's lock, when the session stops early (a cancel or a
  // chunk's error): no more chunks will be read. A consumer that holds chunks back until a group
  // of them is complete (transcode's shards) must now end those that can no longer complete by
  // calling their `done` with a null contribution (dropped: not done, so redone on resume) —
  // the session ends only when every chunk has left. Process may still be called for chunks
  // already decoding. Default: nothing.
  virtual void OnStop() {}

  // When the session ends in an error (before the consumer is destroyed): its error kind when
  // the status code does not tell it, e.g. "timeout" for a command stream past its timeout_s.
  // Empty (the default): transient or permanent by the code.
  virtual std::string ErrorKind() const { return {}; }

  // Called once after every chunk is folded: the session's result. May finish asynchronously
  // (transcode writes its metadata), must not block.
  virtual void Finish(FinishDone done) = 0;
};

}  // namespace batchd::pipeline
