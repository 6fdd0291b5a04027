// What the PostgreSQL store's data tests share: a fresh migrated database per test, batches
// to insert, and the invariant every change must keep (each batch's counters equal its rows).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "storage/pg/pg_batch_writes.h"
#include "storage/pg/pg_connection.h"
#include "storage/records.h"

namespace batchd::storage::pg {

class PgDataTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // A batch of `sessions` sessions in one group (spec {"name": ...}).
  static NewBatch SimpleBatch(uint64_t sessions, const std::string& name = "b");
  // Inserts it with `options` and answers what InsertBatch answered (failing the test if not).
  BatchCreated Insert(uint64_t sessions, PgInsertOptions options = {},
                      const std::string& name = "b");
  // Moves sessions [first_ordinal, first_ordinal + count) of `batch_id` to `state` and recounts
  // the batch's counters and state from its rows, as a claim or an outcome would have.
  void SetSessionStates(int64_t batch_id, uint64_t first_ordinal, uint64_t count,
                        SessionState state);
  // Fails the test if any batch's n_* columns differ from its sessions counted per state.
  void ExpectCountersMatchRows();
  int64_t QueryInt(const std::string& sql);

  std::string uri_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace batchd::storage::pg
