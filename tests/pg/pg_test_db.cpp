// Interim: the server is the one named by BATCHD_TEST_PG_URI (an admin URI) until the test
// harness (tests/support/postgres_server.h) starts one of its own.
#include "tests/pg/pg_test_db.h"

#include <atomic>
#include <cstdlib>

#include <gtest/gtest.h>
#include <unistd.h>

#include "storage/pg/pg_connection.h"

namespace batchd::testing {

std::string FreshPgDatabaseUri() {
  static std::atomic<int> counter{0};
  const char* admin = std::getenv("BATCHD_TEST_PG_URI");
  if (admin == nullptr) {
    ADD_FAILURE() << "BATCHD_TEST_PG_URI is not set";
    return "";
  }
  std::string base(admin);
  auto conn = storage::pg::PgConnection::Open(base);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status().message();
    return "";
  }
  std::string name = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1));
  if (Status s = (*conn)->Run("CREATE DATABASE " + name); !s.ok()) {
    ADD_FAILURE() << s.message();
    return "";
  }
  return base.substr(0, base.rfind('/') + 1) + name;
}

}  // namespace batchd::testing
