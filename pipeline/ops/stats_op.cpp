// {"op": "stats", "source": {...}, "region": ...}: count, nan_count, min, max, sum and mean of
// the region's data elements (stats_kernel.h has the definitions). The reference chunk op.
#include "pipeline/ops/chunk_op.h"
#include "pipeline/ops/stats_kernel.h"

namespace batchd::pipeline {
namespace {

struct StatsContribution final : ChunkContribution {
  ChunkStats stats;
};

class StatsConsumer final : public ChunkConsumer {
 public:
  explicit StatsConsumer(const ArrayMetadata& array)
      : dtype_(array.dtype), chunk_shape_(array.chunk_shape) {}

  void Process(const DecodedChunk& chunk, ProcessDone done) override {
    auto c = std::make_unique<StatsContribution>();
    c->stats = ComputeChunkStats(chunk.data.data(), dtype_, chunk_shape_, chunk.extent);
    done(std::unique_ptr<ChunkContribution>(std::move(c)));
  }

  void Fold(int64_t, ChunkContribution& c) override {
    total_.Add(static_cast<StatsContribution&>(c).stats);
  }

  nlohmann::json SaveState() const override { return total_.ToState(); }

  Status RestoreState(const nlohmann::json& state) override {
    ASSIGN_OR_RETURN(total_, StatsAccumulator::FromState(state));
    return Status::Ok();
  }

  void Finish(FinishDone done) override { done(total_.ToResult()); }

 private:
  const DataType dtype_;
  const std::vector<int64_t> chunk_shape_;
  StatsAccumulator total_;  // guarded by the pipeline's lock (Fold, SaveState)
};

class StatsOp final : public ChunkOp {
 public:
  using ChunkOp::ChunkOp;

  // The batch's result: the statistics of every completed session's region together, plus
  // how many sessions it covers.
  Result<nlohmann::json> FoldResult(const nlohmann::json& aggregate,
                                    const nlohmann::json& result) const override {
    ASSIGN_OR_RETURN(StatsAccumulator add, StatsAccumulator::FromResult(result));
    StatsAccumulator total;
    int64_t sessions = 0;
    if (!aggregate.is_null()) {
      ASSIGN_OR_RETURN(total, StatsAccumulator::FromResult(aggregate));
      sessions = aggregate.value("sessions", int64_t{0});
    }
    total.Merge(add);
    nlohmann::json folded = total.ToResult();
    folded["sessions"] = sessions + 1;
    return folded;
  }

 protected:
  Result<std::unique_ptr<ChunkConsumer>> MakeConsumer(const nlohmann::json&,
                                                      const ArrayMetadata& array,
                                                      const ChunkRegion&, bool) const override {
    return std::unique_ptr<ChunkConsumer>(std::make_unique<StatsConsumer>(array));
  }
};

}  // namespace

std::unique_ptr<Op> MakeStatsOp(const ChunkServices& services) {
  return std::make_unique<StatsOp>(services);
}

}  // namespace batchd::pipeline
