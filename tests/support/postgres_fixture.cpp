#include "tests/support/postgres_fixture.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace batchd::testing {
namespace {

[[noreturn]] void Abort(const char* what, const Status& status) {
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  std::abort();
}

}  // namespace

PostgresServer& SharedPostgres() {
  // Destroyed (server stopped, work dir removed) by the static destructors at exit.
  static const std::unique_ptr<PostgresServer> server = [] {
    auto started = PostgresServer::Start();
    if (!started.ok()) Abort("cannot start the shared PostgreSQL server", started.status());
    return std::move(started).value();
  }();
  return *server;
}

std::string FreshDatabaseUri() {
  static std::atomic<int> counter{0};
  PostgresServer& server = SharedPostgres();
  const std::string name = "t_" + std::to_string(counter++);
  if (Status created = server.CreateDatabase(name); !created.ok()) {
    Abort(("cannot create database " + name).c_str(), created);
  }
  return server.Uri(name);
}

}  // namespace batchd::testing
