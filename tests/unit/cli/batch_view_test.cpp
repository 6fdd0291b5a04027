// What `batchd watch` prints (cli/batch_view.h): the REST batch and events folded into one
// view, the plain line for pipes, the bar for terminals, and the formats they use.
#include "cli/batch_view.h"

#include <gtest/gtest.h>

namespace batchd::cli {
namespace {

using nlohmann::json;

json Batch() {
  return json::parse(R"({"id": "b1", "name": "demo", "state": "running", "sessions": 1000,
    "counts": {"uninitialized": 400, "in_progress": 80, "completed": 500, "error": 15, "canceled": 5}})");
}

TEST(BatchViewTest, FoldsRestThenEventsOfItsOwnBatchOnly) {
  BatchView v = BatchView::FromBatch(Batch());
  EXPECT_EQ(v.Done(), 520);
  EXPECT_FALSE(v.Finished());

  json progress = json::parse(R"({"seq": 9, "type": "batch.progress", "time": "T1", "batch": "b1",
    "state": "running", "counts": {"uninitialized": 300, "in_progress": 80, "completed": 600,
    "error": 15, "canceled": 5}, "sessions_per_s": 250.0, "eta_s": 1.5})");
  EXPECT_TRUE(v.Apply(progress));
  EXPECT_EQ(v.completed, 600);
  EXPECT_EQ(v.sessions_per_s, 250.0);
  EXPECT_EQ(v.time, "T1");
  EXPECT_FALSE(v.Apply(progress)) << "the same counts again change nothing";

  json other = progress;
  other["batch"] = "b2";
  other["counts"]["completed"] = 1;
  EXPECT_FALSE(v.Apply(other));
  EXPECT_EQ(v.completed, 600) << "another batch's event is ignored";

  json finished =
      json::parse(R"({"seq": 10, "type": "batch.state", "batch": "b1", "state": "failed",
    "counts": {"uninitialized": 0, "in_progress": 0, "completed": 980, "error": 15, "canceled": 5}})");
  EXPECT_TRUE(v.Apply(finished));
  EXPECT_TRUE(v.Finished());
  EXPECT_FALSE(v.eta_s) << "a finished batch has no ETA";
}

TEST(BatchViewTest, EventsOlderThanTheRestReadAreSkipped) {
  json batch = Batch();
  batch["event_seq"] = 20;
  BatchView v = BatchView::FromBatch(batch);
  json stale =
      json::parse(R"({"seq": 19, "type": "batch.progress", "batch": "b1", "state": "running",
    "counts": {"uninitialized": 900, "in_progress": 0, "completed": 100, "error": 0, "canceled": 0}})");
  EXPECT_FALSE(v.Apply(stale)) << "seq 19 is already in the REST read taken at seq 20";
  EXPECT_EQ(v.completed, 500);
  stale["seq"] = 21;
  EXPECT_TRUE(v.Apply(stale));
  EXPECT_EQ(v.completed, 100) << "a newer event wins, even backwards (a retry)";
  EXPECT_EQ(v.seq, 21);
}

TEST(BatchViewTest, PlainLinesAreGreppableKeyValues) {
  BatchView v = BatchView::FromBatch(Batch());
  v.time = "2026-11-23T08:00:00.000Z";
  EXPECT_EQ(PlainLine(v),
            "2026-11-23T08:00:00.000Z b1 running 520/1000 (52.0%) completed=500 error=15 "
            "canceled=5 in_progress=80");
  v.sessions_per_s = 1234.4;
  v.eta_s = 61;
  EXPECT_EQ(PlainLine(v).substr(PlainLine(v).find("in_progress")),
            "in_progress=80 rate=1,234/s eta=1:01");
}

TEST(BatchViewTest, TheBarFitsTheTerminalAndShowsTheFraction) {
  BatchView v = BatchView::FromBatch(Batch());
  v.sessions_per_s = 12.5;
  v.eta_s = 3725;
  const std::string wide = BarLine(v, 160);
  EXPECT_NE(wide.find("[###############---------------]"), std::string::npos) << wide;
  EXPECT_NE(wide.find("52.0% 520/1,000"), std::string::npos) << wide;
  EXPECT_NE(wide.find("ETA 1:02:05"), std::string::npos) << wide;
  EXPECT_NE(wide.find("12.5/s"), std::string::npos) << wide;
  EXPECT_LE(BarLine(v, 60).size(), 60u) << "cut to the terminal";
  v.sessions = 0;
  v.completed = v.error = v.canceled = v.in_progress = v.uninitialized = 0;
  EXPECT_NE(BarLine(v, 160).find("100.0%"), std::string::npos) << "an empty batch is done";
}

TEST(BatchViewTest, SummaryAndFormats) {
  BatchView v = BatchView::FromBatch(Batch());
  v.state = "failed";
  EXPECT_EQ(Summary(v),
            "batch b1 (demo) failed: 1,000 sessions, 500 completed, 15 errors, 5 canceled");
  v.error = 1;
  EXPECT_NE(Summary(v).find("1 error,"), std::string::npos);
  EXPECT_EQ(FormatRate(0.25), "0.2");
  EXPECT_EQ(FormatRate(99.96), "100.0");
  EXPECT_EQ(FormatRate(250000), "250,000");
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(59.2), "1:00");
  EXPECT_EQ(FormatDuration(-3), "0s");
  EXPECT_EQ(FormatDuration(3600), "1:00:00");
}

}  // namespace
}  // namespace batchd::cli
