#include "storage/session_moves.h"

#include <algorithm>
#include <numeric>

#include <SQLiteCpp/Statement.h>

namespace batchd::storage {
namespace {

// Shorter runs are moved one by one: the check and the ranged UPDATE cost about as much as
// moving a few rows singly.
constexpr size_t kMinRunForRange = 8;

bool MoveOne(StatementCache& statements, const SessionOutcome& o) {
  auto move =
      statements.Use("UPDATE session SET state = ?, not_before = ? WHERE id = ? AND state = 1");
  move->bind(1, static_cast<int>(TargetState(o.target)));
  if (o.target == SessionOutcome::Target::kRequeue) {
    move->bind(2, o.not_before_ms);
  }  // else NULL: bindings start cleared
  move->bind(3, o.session_id);
  return move->exec() == 1;
}

// Moves sessions [first, end) to `to` if all of them are in_progress; false (nothing moved)
// otherwise.
bool MoveRangeIfAllInProgress(StatementCache& statements, int64_t first, int64_t end,
                              SessionState to) {
  {
    auto count =
        statements.Use("SELECT count(*) FROM session WHERE id >= ? AND id < ? AND state = 1");
    count->bind(1, first);
    count->bind(2, end);
    if (!count->executeStep() || count->getColumn(0).getInt64() != end - first) return false;
  }
  auto move = statements.Use(
      "UPDATE session SET state = ?, not_before = NULL WHERE id >= ? AND id < ? AND state = 1");
  move->bind(1, static_cast<int>(to));
  move->bind(2, first);
  move->bind(3, end);
  move->exec();
  return true;
}

}  // namespace

std::vector<bool> MoveFinishedSessions(StatementCache& statements,
                                       const std::vector<const SessionOutcome*>& outcomes) {
  std::vector<bool> applied(outcomes.size(), false);
  std::vector<size_t> order(outcomes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return outcomes[x]->session_id < outcomes[y]->session_id; });
  // A run: consecutive ids (so no session twice), one final state, no requeue time to set.
  auto extends_run = [&](size_t prev, size_t next) {
    const SessionOutcome& a = *outcomes[prev];
    const SessionOutcome& b = *outcomes[next];
    return b.session_id == a.session_id + 1 && b.target == a.target &&
           b.target != SessionOutcome::Target::kRequeue;
  };
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin + 1;
    while (end < order.size() && extends_run(order[end - 1], order[end])) ++end;
    const SessionOutcome& first = *outcomes[order[begin]];
    const bool moved_as_range =
        end - begin >= kMinRunForRange &&
        MoveRangeIfAllInProgress(statements, first.session_id,
                                 first.session_id + static_cast<int64_t>(end - begin),
                                 TargetState(first.target));
    for (size_t k = begin; k < end; ++k) {
      applied[order[k]] = moved_as_range || MoveOne(statements, *outcomes[order[k]]);
    }
    begin = end;
  }
  return applied;
}

}  // namespace batchd::storage
