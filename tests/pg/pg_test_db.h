// A fresh, empty PostgreSQL database for one test, on the server the test binary shares
// (tests/support/postgres_server.h). Every call creates a new database.
#pragma once

#include <string>

namespace batchd::testing {

// postgresql://batchd@127.0.0.1:PORT/<new database>, on tests/support/postgres_fixture.h's
// shared server (started on first use: call it first from the test's main thread).
std::string FreshPgDatabaseUri();

}  // namespace batchd::testing
