// A fresh, empty PostgreSQL database for one test, on the server the test binary shares
// (tests/support/postgres_server.h). Every call creates a new database.
#pragma once

#include <string>

namespace batchd::testing {

// postgresql://batchd@127.0.0.1:PORT/<new database>. Fails the calling test (ADD_FAILURE) and
// answers "" if no server could be started.
std::string FreshPgDatabaseUri();

}  // namespace batchd::testing
