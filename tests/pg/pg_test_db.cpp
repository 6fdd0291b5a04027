#include "tests/pg/pg_test_db.h"

#include "tests/support/postgres_fixture.h"

namespace batchd::testing {

std::string FreshPgDatabaseUri() { return FreshDatabaseUri(); }

}  // namespace batchd::testing
