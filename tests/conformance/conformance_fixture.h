// The fixture of the Store conformance suite: every test runs once per engine
// (StoreUnderTest), through the Store interface, with the synchronous helpers the tests share.
//
// What a store does after a call's callback may become visible later on one engine than on the
// other (PostgreSQL numbers events after commit, by a sequencer), so tests that wait for
// something poll for it (Eventually) instead of expecting it at once. The poll's bound sits just
// under the ctest TIMEOUT of the binary: it is a hang guard that names what was awaited, not a
// claim about how fast a store is.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "storage/store.h"
#include "storage_test_util.h"
#include "tests/conformance/store_under_test.h"

namespace batchd::storage::conformance {

// Just under the binary's ctest TIMEOUT (tests/CMakeLists.txt).
inline constexpr std::chrono::seconds kPollLimit{540};

// Calls `done` until it holds (true) or kPollLimit has passed (false).
bool Eventually(const std::function<bool()>& done);

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Opens the engine's store with `config` (closing the one open before); fails the test if it
  // cannot. Use as ASSERT_NO_FATAL_FAILURE(Open(...)).
  void Open(StoreConfig config = {});
  // Closes the store and opens it again on the same data: a restart.
  void Reopen();

  Store& store() { return engine_->store(); }
  StoreUnderTest& engine() { return *engine_; }

  BatchCreated Create(NewBatch batch);
  ClaimResult Claim(int n, int64_t now_ms);
  BatchRecord Batch(const std::string& public_id);
  EventPage Read(EventQuery query);

  std::unique_ptr<StoreUnderTest> engine_;
};

// The test name's suffix: the engine's name.
std::string EngineParamName(const ::testing::TestParamInfo<std::string>& info);

}  // namespace batchd::storage::conformance

// Runs every TEST_P of `suite` once per engine: Suite/Engines.Test/sqlite, .../postgresql.
#define BATCHD_FOR_EVERY_STORE(suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(Engines, suite,                                                     \
                           ::testing::ValuesIn(::batchd::storage::conformance::EngineNames()), \
                           ::batchd::storage::conformance::EngineParamName)
