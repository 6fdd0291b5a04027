#include "daemon/live_progress_reporter.h"

#include <memory>
#include <utility>

#include "core/interval_throttle.h"
#include "core/live_progress_interval.h"

namespace batchd::daemon {

std::optional<std::vector<storage::ChunkRange>> DoneRanges(const pipeline::ChunkCursor& done,
                                                           size_t max_ranges) {
  return done.Runs(max_ranges);
}

pipeline::LiveProgressReporter MakeLiveProgressReporter(LiveProgressSink sink, int64_t session_id,
                                                        std::string batch_public_id,
                                                        SteadyClock clock) {
  // Shared: a LiveProgressReporter is copied, and every copy throttles as one.
  auto throttle = std::make_shared<IntervalThrottle>(kLiveProgressIntervalMs, std::move(clock));
  return [sink = std::move(sink), session_id, batch = std::move(batch_public_id),
          throttle](const pipeline::LiveProgress& p) {
    // Turning a map into ranges costs a pass over it: only reports that will be written pay it.
    if (!throttle->TryPass(/*force=*/p.chunks_done >= p.chunks_total)) return;
    storage::SessionLiveProgress report{.session_id = session_id,
                                        .batch_public_id = batch,
                                        .chunks_done = p.chunks_done,
                                        .chunks_total = p.chunks_total,
                                        .bytes_done = p.bytes_done};
    if (p.done != nullptr) report.done_ranges = DoneRanges(*p.done);
    sink(std::move(report));
  };
}

pipeline::LiveProgressReporter MakeLiveProgressReporter(storage::Store& store, int64_t session_id,
                                                        std::string batch_public_id,
                                                        SteadyClock clock) {
  return MakeLiveProgressReporter(
      [&store](storage::SessionLiveProgress report) {
        store.ReportLiveProgress(std::move(report));
      },
      session_id, std::move(batch_public_id), std::move(clock));
}

}  // namespace batchd::daemon
