// What the CLI shows about a batch while it is watched: built from the REST batch and updated
// from events, rendered as one line. Pure functions: no I/O, easy to test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/batch_state.h"

namespace batchd::cli {

struct BatchView {
  std::string id;
  std::string name;
  std::string state;
  int64_t sessions = 0;
  int64_t uninitialized = 0;
  int64_t in_progress = 0;
  int64_t completed = 0;
  int64_t error = 0;
  int64_t canceled = 0;
  std::optional<double> sessions_per_s;
  std::optional<double> eta_s;
  std::string time;  // of the last update (the event's time), ISO 8601
  // The latest event seq this view reflects: a REST read's event_seq, then each event's seq.
  // Events at or below it are older than what is shown and are skipped.
  int64_t seq = 0;

  int64_t Done() const { return completed + error + canceled; }
  bool Finished() const { return IsFinished(state); }

  // From GET /api/v1/batches/{id}.
  static BatchView FromBatch(const nlohmann::json& batch);
  // Applies a batch.* event about this batch; false if it changed nothing shown (or is older
  // than the view).
  bool Apply(const nlohmann::json& event);
};

// "2026-11-23T08:00:01.200Z 3f9c0a7d12e4b6c8 running 520/1000 (52.0%) completed=517 error=3
//  canceled=0 in_progress=8 rate=1234.5/s eta=12s": one line per update when stdout is not a
// terminal (logs, pipes, CI), with key=value pairs a script can grep.
std::string PlainLine(const BatchView& view);

// "3f9c0a7d12e4b6c8 running [##########----------]  52% 520/1000 ok 517 err 3 cx 0
//  1,234/s ETA 0:12", fitted to `width` columns: redrawn in place on a terminal.
std::string BarLine(const BatchView& view, int width);

// The last line: "batch 3f9c0a7d12e4b6c8 (name) completed: 1000 sessions, 1000 completed,
// 0 errors, 0 canceled".
std::string Summary(const BatchView& view);

// "1,234.5" style rate and "1:02:03" / "2:03" / "45s" durations, as the views print them.
std::string FormatRate(double per_s);
std::string FormatDuration(double seconds);

}  // namespace batchd::cli
