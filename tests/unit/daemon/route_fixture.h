// The REST routes (api/routes.h) over a real store in a temp dir, dispatched straight to the
// router without HTTP: for tests of what a route does to the store and tells the scheduler.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "api/query_params.h"
#include "api/routes.h"
#include "core/clock.h"
#include "core/worker_pool.h"
#include "pipeline/ops/op_registry.h"
#include "storage_test_util.h"

namespace batchd::api::testing {

// A scheduler that does nothing; tests override what they watch.
class SchedulerStub : public SchedulerControl {
 public:
  void Wake() override {}
  void CancelRunningSession(int64_t) override {}
  void CancelRunningBatch(const std::string&) override {}
  void ForgetBatch(const std::string&) override {}
  SchedulerStats Stats() const override { return {}; }
};

class RouteFixture : public ::testing::Test {
 protected:
  // Opens the store and registers the routes with `scheduler` and `clock`, which must stay
  // alive until TearDown has closed the store (members of the test class do).
  void Start(SchedulerControl& scheduler, WallClock clock = UnixMillis) {
    Result<std::unique_ptr<storage::Store>> s = storage::OpenSqliteStore({.db_path = db_path()});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    pipeline::RegisterBuiltinOps(ops_, timers_);
    RegisterRoutes(router_, {.store = *store_,
                             .cpu = cpu_,
                             .scheduler = scheduler,
                             .ops = ops_,
                             .clock = std::move(clock)});
  }
  void TearDown() override {
    if (store_) store_->Close();
  }

  std::filesystem::path db_path() const { return dir_.path() / "batchd.db"; }

  // Stores a batch of `sessions` noop sessions; its public id ("" on failure).
  std::string Create(uint64_t sessions = 2) {
    Result<storage::BatchCreated> created = storage::testing::Await<storage::BatchCreated>(
        [&](auto done) { store_->CreateBatch(storage::testing::MakeBatch(sessions), done); });
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
  Router router_;
};

}  // namespace batchd::api::testing
