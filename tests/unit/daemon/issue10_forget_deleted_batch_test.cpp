// Issue 10, item 2(c), the rest: "drop entries of deleted batches" from the spec cache. The
// DELETE route tells the scheduler, once the delete has committed, so that the batch's parsed
// spec goes at once (spec_cache_test checks the cache's side); a refused delete tells nothing.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <vector>

#include "api/event_hub.h"
#include "api/query_params.h"
#include "api/routes.h"
#include "core/worker_pool.h"
#include "pipeline/ops/op_registry.h"
#include "storage_test_util.h"

namespace batchd::api {
namespace {

class RecordingScheduler final : public SchedulerControl {
 public:
  void Wake() override {}
  void CancelRunningSession(int64_t) override {}
  void CancelRunningBatch(const std::string&) override {}
  void ForgetBatch(const std::string& batch_public_id) override {
    std::lock_guard lock(mu_);
    forgotten_.push_back(batch_public_id);
  }
  SchedulerStats Stats() const override { return {}; }

  std::vector<std::string> forgotten() const {
    std::lock_guard lock(mu_);
    return forgotten_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> forgotten_;
};

class ForgetDeletedBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<storage::Store>> s =
        storage::OpenSqliteStore({.db_path = dir_.path() / "batchd.db"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    pipeline::RegisterBuiltinOps(ops_, timers_);
    RegisterRoutes(router_, {.store = *store_, .cpu = cpu_, .scheduler = scheduler_, .ops = ops_});
  }
  void TearDown() override {
    if (store_) store_->Close();
  }

  std::string Create() {
    Result<storage::BatchCreated> created = storage::testing::Await<storage::BatchCreated>(
        [&](auto done) { store_->CreateBatch(storage::testing::MakeBatch(2), std::move(done)); });
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->public_id : "";
  }

  HttpResponse Send(const std::string& method, const std::string& target) {
    HttpRequest request = RequestFromTarget(method, target, "");
    std::promise<HttpResponse> answered;
    router_.Dispatch(request, [&answered](HttpResponse r) { answered.set_value(std::move(r)); });
    return answered.get_future().get();
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  pipeline::TimerService timers_;
  pipeline::OpRegistry ops_;
  WorkerPool cpu_{1, 4};
  RecordingScheduler scheduler_;
  Router router_;
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
