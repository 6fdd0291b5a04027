#include "tests/conformance/conformance_fixture.h"

#include <thread>

namespace batchd::storage::conformance {

using storage::testing::Await;

bool Eventually(const std::function<bool()>& done) {
  const auto limit = std::chrono::steady_clock::now() + kPollLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > limit) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void StoreConformanceTest::SetUp() {
  engine_ = MakeStoreUnderTest(GetParam());
  ASSERT_TRUE(engine_ != nullptr);
}

void StoreConformanceTest::TearDown() {
  if (engine_) engine_->Close();
}

void StoreConformanceTest::Open(StoreConfig config) {
  Status s = engine_->Open(std::move(config));
  ASSERT_TRUE(s.ok()) << engine_->name() << ": " << s.ToString();
}

void StoreConformanceTest::Reopen() {
  Status s = engine_->Reopen();
  ASSERT_TRUE(s.ok()) << engine_->name() << ": " << s.ToString();
}

BatchCreated StoreConformanceTest::Create(NewBatch batch) {
  Result<BatchCreated> r =
      Await<BatchCreated>([&](auto cb) { store().CreateBatch(std::move(batch), cb); });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : BatchCreated{};
}

ClaimResult StoreConformanceTest::Claim(int n, int64_t now_ms) {
  Result<ClaimResult> r =
      Await<ClaimResult>([&](auto cb) { store().ClaimSessions(n, now_ms, cb); });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ClaimResult{};
}

BatchRecord StoreConformanceTest::Batch(const std::string& public_id) {
  Result<BatchRecord> r = Await<BatchRecord>([&](auto cb) { store().GetBatch(public_id, cb); });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : BatchRecord{};
}

EventPage StoreConformanceTest::Read(EventQuery query) {
  Result<EventPage> r = Await<EventPage>([&](auto cb) { store().ReadEvents(query, cb); });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : EventPage{};
}

std::string EngineParamName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace batchd::storage::conformance
