// One PostgreSQL server per test binary, each test in a database of its own: starting a cluster
// (initdb) takes seconds, creating a database milliseconds.
//
// SharedPostgres() starts the server on first use (default PostgresOptions) and it is stopped
// when the process exits (a function-local static's destructor; if the process dies instead,
// the parent-death signal kills the server). Tests must not Kill, Restart or Stop the shared
// server: a test about a database going away starts a PostgresServer of its own. Call
// SharedPostgres() first from the test's main thread (see the parent-death note in
// postgres_server.h); later calls, and FreshDatabaseUri(), may come from any thread.
#pragma once

#include <string>

#include "tests/support/postgres_server.h"

namespace batchd::testing {

// The process's shared server. If it cannot be started, prints why and aborts the binary: no
// test that asked for it can do anything without it (as TempDir does for /tmp).
PostgresServer& SharedPostgres();

// Creates a fresh, empty database on SharedPostgres() (t_<n>, n counting up per process) and
// returns its URI ("postgresql://batchd@127.0.0.1:<port>/t_<n>"). Aborts like SharedPostgres
// if the database cannot be created. Safe to call from several threads.
std::string FreshDatabaseUri();

}  // namespace batchd::testing
