// A fresh, empty PostgreSQL database for one test, on the server the test binary shares
// (tests/support/postgres_server.h). Every call creates a new database.
#pragma once

#include <string>

#include "core/clock.h"

namespace batchd::testing {

// postgresql://batchd@127.0.0.1:PORT/<new database>, on tests/support/postgres_fixture.h's
// shared server (started on first use: call it first from the test's main thread).
std::string FreshPgDatabaseUri();

// The wall clock of PostgreSQL tests whose store parts run threads on real time (heartbeats,
// node timeouts, the server's own now_ms() in triggers): the seam's default, injected as the
// daemon injects it. Tests that set times use tests/support/manual_clock.h instead.
inline const WallClock kPgTestWallClock = UnixMillis;

}  // namespace batchd::testing
