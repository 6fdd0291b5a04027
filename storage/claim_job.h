// Dequeues sessions: one write transaction moves up to N of them to in_progress, in priority,
// then batch age, then id order, respecting each batch's max_running (see Store::ClaimSessions).
#pragma once

#include "storage/outcome_buffer.h"
#include "storage/session_transitions.h"
#include "storage/statement_cache.h"
#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {

class ClaimJob : public WriteJob {
 public:
  // `statements` is the writer's cache (Writer::statements()), used only inside Step.
  // `observer` (optional) hears of each batch's claimed sessions inside the transaction.
  // `outcomes` (optional): while it holds outcomes a failed flush could not store, the claim
  // fails with kUnavailable and claims nothing (OutcomeBuffer::ReadyForClaims).
  ClaimJob(int max_sessions, int64_t now_ms, StatementCache& statements, Callback<ClaimResult> done,
           SessionTransitionObserver* observer = nullptr, const OutcomeBuffer* outcomes = nullptr)
      : max_sessions_(max_sessions),
        now_ms_(now_ms),
        statements_(statements),
        done_(std::move(done)),
        observer_(observer),
        outcomes_(outcomes) {}

  Result<Progress> Step(SQLite::Database& db) override;
  void Complete() override { done_(std::move(result_)); }
  void Fail(SQLite::Database&, const Status& status) override { done_(status); }

 private:
  const int max_sessions_;
  const int64_t now_ms_;
  StatementCache& statements_;
  Callback<ClaimResult> done_;
  SessionTransitionObserver* const observer_;
  const OutcomeBuffer* const outcomes_;
  ClaimResult result_;
};

}  // namespace batchd::storage
