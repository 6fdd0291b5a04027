#include "storage/pg/pg_events.h"

namespace batchd::storage::pg {
namespace {

// Placeholder until the hub is written: delivers nothing.
class IdleEventHub final : public PgEventHub {
 public:
  void ReportLiveProgress(SessionLiveProgress) override {}
  void BatchesChanged(std::span<const int64_t>) override {}
  void SessionEventsSuppressed(int64_t, int64_t) override {}
  void Trim(std::function<void(Result<int64_t>)> done) override { done(int64_t{0}); }
  void Stop() override {}
};

}  // namespace

Status AppendEvents(PgConnection&, std::span<const EventRecord>) { return Status::Ok(); }

Result<EventPage> ReadEvents(PgConnection&, const EventQuery&) {
  return Status::Internal("PostgreSQL ReadEvents: not written yet");
}

Result<int64_t> LatestEventSeq(PgConnection&) { return int64_t{0}; }

Result<std::unique_ptr<PgEventHub>> PgEventHub::Start(PgEventHubOptions) {
  return std::unique_ptr<PgEventHub>(std::make_unique<IdleEventHub>());
}

}  // namespace batchd::storage::pg
