#include "storage/pg/pg_outcome_round.h"

#include <algorithm>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "storage/pg/pg_arrays.h"
#include "storage/pg/pg_counters.h"
#include "storage/pg/pg_events.h"

namespace batchd::storage::pg {
namespace {

Status SaveCheckpoints(PgConnection& conn, int64_t node_id,
                       const std::vector<PgScheduleEntry>& entries) {
  std::unordered_map<int64_t, const CheckpointUpdate*> latest;
  std::vector<int64_t> order;
  for (const auto& e : entries) {
    if (const auto* p = std::get_if<CheckpointUpdate>(&e)) {
      auto [it, inserted] = latest.try_emplace(p->session_id, p);
      if (inserted) {
        order.push_back(p->session_id);
      } else {
        it->second = p;
      }
    }
  }
  if (order.empty()) return Status::Ok();
  PgArray ids, done, total, checkpoint;
  for (int64_t id : order) {
    const CheckpointUpdate& p = *latest[id];
    ids.Int(id);
    done.Int(p.chunks_done);
    total.Int(p.chunks_total);
    checkpoint.Text(p.checkpoint_json);
  }
  return conn.Run(
      "INSERT INTO session_state (session_id, chunks_done, chunks_total, checkpoint) "
      "SELECT c.id, c.done, c.total, c.cp FROM unnest($1::bigint[], $2::bigint[], "
      "$3::bigint[], $4::text[]) AS c(id, done, total, cp) "
      "JOIN session s ON s.id = c.id AND s.state = 1 AND s.node_id = $5 "
      "ON CONFLICT (session_id) DO UPDATE SET chunks_done = excluded.chunks_done, "
      "chunks_total = excluded.chunks_total, checkpoint = excluded.checkpoint",
      {PgParam::Text(ids.Literal()), PgParam::Text(done.Literal()), PgParam::Text(total.Literal()),
       PgParam::Text(checkpoint.Literal()), PgParam::Int(node_id)});
}

// The latest saved state per session, in first-saved order; an outcome takes its session's.
class StatesById {
 public:
  explicit StatesById(const std::vector<PgScheduleEntry>& entries) {
    for (const auto& e : entries) {
      if (const auto* s = std::get_if<PgSavedState>(&e)) {
        auto [it, inserted] = latest_.try_emplace(s->session_id, s);
        if (inserted) {
          order_.push_back(s->session_id);
        } else {
          it->second = s;
        }
      }
    }
  }
  const PgSavedState* Take(int64_t session_id) {
    auto it = latest_.find(session_id);
    if (it == latest_.end()) return nullptr;
    return std::exchange(it->second, nullptr);
  }
  template <typename Fn>
  void ForEachUntaken(Fn fn) const {
    for (int64_t id : order_) {
      const PgSavedState* s = latest_.at(id);
      if (s != nullptr) fn(*s);
    }
  }

 private:
  std::unordered_map<int64_t, const PgSavedState*> latest_;
  std::vector<int64_t> order_;
};

struct Moved {
  size_t entry;
  const SessionOutcome* outcome;
  int64_t attempts;
};

// Moves the outcomes' sessions still in progress on this node; answers those that moved.
Result<std::vector<Moved>> MoveSessions(PgConnection& conn, int64_t node_id,
                                        const std::vector<PgScheduleEntry>& entries,
                                        std::vector<int64_t>& finished_sessions) {
  std::unordered_map<int64_t, size_t> first;  // session -> entry of its first outcome
  PgArray ids, states, not_before;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto* f = std::get_if<PgFinished>(&entries[i]);
    if (f == nullptr) continue;
    const SessionOutcome& o = f->outcome;
    finished_sessions.push_back(o.session_id);
    if (!first.try_emplace(o.session_id, i).second) continue;  // a duplicate: not applied
    ids.Int(o.session_id);
    states.Int(static_cast<int>(TargetState(o.target)));
    if (o.target == SessionOutcome::Target::kRequeue) {
      not_before.Int(o.not_before_ms);
    } else {
      not_before.Null();
    }
  }
  std::vector<Moved> moved;
  if (ids.empty()) return moved;
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("UPDATE session s SET state = o.st, not_before = o.nb, "
                "node_id = CASE WHEN o.st = 0 THEN NULL ELSE s.node_id END "
                "FROM unnest($1::bigint[], $2::smallint[], $3::bigint[]) AS o(id, st, nb) "
                "WHERE s.id = o.id AND s.state = 1 AND s.node_id = $4 "
                "RETURNING s.id, s.attempts",
                {PgParam::Text(ids.Literal()), PgParam::Text(states.Literal()),
                 PgParam::Text(not_before.Literal()), PgParam::Int(node_id)}));
  moved.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    const size_t entry = first.at(r.Int(i, 0));
    moved.push_back({entry, &std::get<PgFinished>(entries[entry]).outcome, r.Int(i, 1)});
  }
  // Call order, so that counters, folding and events see outcomes as they came.
  std::sort(moved.begin(), moved.end(),
            [](const Moved& x, const Moved& y) { return x.entry < y.entry; });
  return moved;
}

Status RecordOutcomes(PgConnection& conn, const std::vector<Moved>& moved, StatesById& states) {
  if (moved.empty()) return Status::Ok();
  PgArray ids, blobs, started, results, kinds, messages, finished;
  for (const Moved& m : moved) {
    const SessionOutcome& o = *m.outcome;
    ids.Int(o.session_id);
    if (const PgSavedState* s = states.Take(o.session_id)) {
      blobs.Bytes(s->state_blob);
      started.Int(s->started_at_ms);
    } else {
      blobs.Null();
      started.Null();
    }
    results.OptionalText(o.result_json);
    if (o.error_kind.empty()) {
      kinds.Null();
      messages.Null();
    } else {
      kinds.Text(o.error_kind);
      messages.Text(o.error_message);
    }
    if (o.target == SessionOutcome::Target::kRequeue) {
      finished.Null();
    } else {
      finished.Int(o.finished_at_ms);
    }
  }
  return conn.Run(
      "INSERT INTO session_state (session_id, state, started_at, result, error_kind, "
      "error_message, finished_at) SELECT * FROM unnest($1::bigint[], $2::bytea[], "
      "$3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[]) "
      "ON CONFLICT (session_id) DO UPDATE SET "
      "state = coalesce(excluded.state, session_state.state), "
      "started_at = coalesce(excluded.started_at, session_state.started_at), "
      "result = excluded.result, error_kind = excluded.error_kind, "
      "error_message = excluded.error_message, finished_at = excluded.finished_at",
      {PgParam::Text(ids.Literal()), PgParam::Text(blobs.Literal()),
       PgParam::Text(started.Literal()), PgParam::Text(results.Literal()),
       PgParam::Text(kinds.Literal()), PgParam::Text(messages.Literal()),
       PgParam::Text(finished.Literal())});
}

// States of sessions still running here (their outcome is not in this round, or did not apply:
// then the session is no longer this node's and the state is not written).
Status SaveStates(PgConnection& conn, int64_t node_id, const StatesById& states) {
  PgArray ids, blobs, started;
  states.ForEachUntaken([&](const PgSavedState& s) {
    ids.Int(s.session_id);
    blobs.Bytes(s.state_blob);
    started.Int(s.started_at_ms);
  });
  if (ids.empty()) return Status::Ok();
  return conn.Run(
      "INSERT INTO session_state (session_id, state, started_at) "
      "SELECT v.id, v.st, v.at FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) "
      "AS v(id, st, at) JOIN session s ON s.id = v.id AND s.state = 1 AND s.node_id = $4 "
      "ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, "
      "started_at = excluded.started_at",
      {PgParam::Text(ids.Literal()), PgParam::Text(blobs.Literal()),
       PgParam::Text(started.Literal()), PgParam::Int(node_id)});
}

struct LockedBatch {
  int64_t id;
  uint64_t sessions;
  std::string public_id;
  std::optional<std::string> result;
  bool result_changed = false;
};

Result<std::vector<LockedBatch>> LockBatches(PgConnection& conn, std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  PgArray array;
  for (int64_t id : ids) array.Int(id);
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id, session_count, public_id, result FROM batch "
                                         "WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
                                         {PgParam::Text(array.Literal())}));
  std::vector<LockedBatch> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.Int(i, 0), static_cast<uint64_t>(r.Int(i, 1)), std::string(r.Text(i, 2)),
                   r.OptionalText(i, 3)});
  }
  return out;
}

LockedBatch* Find(std::vector<LockedBatch>& batches, int64_t id) {
  for (LockedBatch& b : batches) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

Status FoldResults(PgConnection& conn, const std::vector<Moved>& moved,
                   std::vector<LockedBatch>& batches, const ResultMerger& merge) {
  if (!merge) return Status::Ok();
  for (const Moved& m : moved) {
    const SessionOutcome& o = *m.outcome;
    if (o.target != SessionOutcome::Target::kCompleted || !o.result_json || o.op.empty()) {
      continue;
    }
    LockedBatch* b = Find(batches, o.batch_id);
    if (b == nullptr) continue;
    Result<std::optional<std::string>> merged = merge(o.op, b->result, *o.result_json);
    if (!merged.ok()) {
      spdlog::warn("result of session {} not folded into its batch's: {}", o.session_id,
                   merged.status().ToString());
    } else if (*merged) {
      b->result = std::move(*merged);
      b->result_changed = true;
    }
  }
  for (const LockedBatch& b : batches) {
    if (!b.result_changed) continue;
    RETURN_IF_ERROR(conn.Run("UPDATE batch SET result = $1 WHERE id = $2",
                             {PgParam::Text(*b.result), PgParam::Int(b.id)}));
  }
  return Status::Ok();
}

Status WriteRound(PgConnection& conn, int64_t node_id, const std::vector<PgScheduleEntry>& entries,
                  const ResultMerger& merge, PgSessionEvents& events, PgRound& round) {
  RETURN_IF_ERROR(SaveCheckpoints(conn, node_id, entries));
  StatesById states(entries);
  ASSIGN_OR_RETURN(std::vector<Moved> moved,
                   MoveSessions(conn, node_id, entries, round.finished_sessions));
  round.applied.assign(entries.size(), false);
  for (const Moved& m : moved) round.applied[m.entry] = true;
  RETURN_IF_ERROR(RecordOutcomes(conn, moved, states));
  RETURN_IF_ERROR(SaveStates(conn, node_id, states));
  if (moved.empty()) return Status::Ok();

  PgDeltas deltas;
  int64_t now_ms = 0;
  for (const Moved& m : moved) {
    MoveCount(deltas.For(m.outcome->batch_id).delta, SessionState::kInProgress,
              TargetState(m.outcome->target));
    now_ms = std::max(now_ms, m.outcome->finished_at_ms);
  }
  round.changed_batches = deltas.BatchIds();
  ASSIGN_OR_RETURN(std::vector<LockedBatch> batches, LockBatches(conn, round.changed_batches));
  // The sessions' events before the counters move: a batch the round finishes gets its
  // batch.state and batch.finished rows from the trigger of that UPDATE, and they must come
  // after the session.state rows of the sessions that finished it (rows are numbered in
  // insertion order).
  PgSessionEventBatch batch_events;
  for (const Moved& m : moved) {
    const SessionOutcome& o = *m.outcome;
    const LockedBatch* b = Find(batches, o.batch_id);
    if (b == nullptr) continue;
    batch_events.Add(events, b->id, b->public_id, b->sessions, o.session_id,
                     SessionState::kInProgress, TargetState(o.target), m.attempts, &o,
                     o.finished_at_ms);
  }
  if (!batch_events.events.empty()) RETURN_IF_ERROR(AppendEvents(conn, batch_events.events));
  round.suppressed = std::move(batch_events.suppressed);

  std::vector<PgBatchDelta> ordered = deltas.all();
  std::sort(ordered.begin(), ordered.end(),
            [](const PgBatchDelta& x, const PgBatchDelta& y) { return x.batch_id < y.batch_id; });
  RETURN_IF_ERROR(ApplyCounterDeltas(conn, ordered, now_ms));
  return FoldResults(conn, moved, batches, merge);
}

}  // namespace

Result<PgRound> WriteRoundInTransaction(PgConnection& conn, int64_t node_id,
                                        const std::vector<PgScheduleEntry>& entries,
                                        const ResultMerger& merge_results,
                                        PgSessionEvents& events) {
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  PgRound round;
  RETURN_IF_ERROR(WriteRound(conn, node_id, entries, merge_results, events, round));
  RETURN_IF_ERROR(txn.Commit());
  return round;
}

}  // namespace batchd::storage::pg
