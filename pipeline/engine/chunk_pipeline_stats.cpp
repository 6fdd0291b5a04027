#include "pipeline/engine/chunk_pipeline_stats.h"

namespace batchd::pipeline {

ChunkPipelineStats& GlobalChunkPipelineStats() {
  static ChunkPipelineStats stats;
  return stats;
}

}  // namespace batchd::pipeline
