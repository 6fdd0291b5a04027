// Issue 10, item 2(c), the rest: "drop entries of deleted batches" from the spec cache. The
// DELETE route tells the scheduler, once the delete has committed, so that the batch's parsed
// spec goes at once (spec_cache_test checks the cache's side); a refused delete tells nothing.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "route_fixture.h"

namespace batchd::api {
namespace {

class RecordingScheduler final : public testing::SchedulerStub {
 public:
  void ForgetBatch(const std::string& batch_public_id) override {
    std::lock_guard lock(mu_);
    forgotten_.push_back(batch_public_id);
  }

  std::vector<std::string> forgotten() const {
    std::lock_guard lock(mu_);
    return forgotten_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> forgotten_;
};

class ForgetDeletedBatchTest : public testing::RouteFixture {
 protected:
  void SetUp() override { Start(scheduler_); }

  RecordingScheduler scheduler_;
};

TEST_F(ForgetDeletedBatchTest, DeletingABatchTellsTheSchedulerToForgetIt) {
  const std::string kept = Create();
  const std::string id = Create();
  ASSERT_EQ(Send("POST", "/api/v1/batches/" + id + "/cancel").status, 200);
  EXPECT_TRUE(scheduler_.forgotten().empty()) << "a cancel keeps the batch, and so its spec";

  const HttpResponse deleted = Send("DELETE", "/api/v1/batches/" + id);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(scheduler_.forgotten(), std::vector<std::string>{id});

  // Refused deletes (unfinished, unknown) forget nothing.
  EXPECT_EQ(Send("DELETE", "/api/v1/batches/" + kept).status, 409);
  EXPECT_EQ(Send("DELETE", "/api/v1/batches/" + id).status, 404);
  EXPECT_EQ(scheduler_.forgotten(), std::vector<std::string>{id});
}

}  // namespace
}  // namespace batchd::api
