#include "daemon/chunk_progress_reporter.h"

#include <atomic>
#include <memory>

#include "core/clock.h"

namespace batchd::daemon {
namespace {

// The event log writes at most one session.progress per session per 100 ms.
constexpr int64_t kReportIntervalMs = 100;

}  // namespace

std::optional<std::vector<storage::ChunkRange>> DoneRanges(const pipeline::ProgressCursor& done,
                                                           size_t max_ranges) {
  return done.Runs(max_ranges);
}

pipeline::ProgressReporter ChunkProgressReporter(storage::Store& store, int64_t session_id,
                                                 std::string batch_public_id) {
  // Turning a map into ranges costs a pass over it: only reports that will be written pay it.
  auto last_ms = std::make_shared<std::atomic<int64_t>>(0);
  return [&store, session_id, batch = std::move(batch_public_id),
          last_ms](const pipeline::ChunkProgress& p) {
    const int64_t now = UnixMillis();
    const bool last = p.chunks_done >= p.chunks_total;
    if (!last && now - last_ms->load() < kReportIntervalMs) return;
    last_ms->store(now);
    storage::SessionProgress report{.session_id = session_id,
                                    .batch_public_id = batch,
                                    .chunks_done = p.chunks_done,
                                    .chunks_total = p.chunks_total,
                                    .bytes_done = p.bytes_done};
    if (p.done != nullptr) report.done_ranges = DoneRanges(*p.done);
    store.ReportProgress(std::move(report));
  };
}

}  // namespace batchd::daemon
