// pg_claim_limit: the PostgreSQL anchors of bench/pg_scale_bench.py (bench/README.md), with
// libpq and nothing else.
//
//   claim (default)  "the limit" for the drain: fills a session-like table with N rows (COPY,
//                    untimed), then T threads, each on its own connection, loop until no row
//                    is left: one transaction claims the next K rows (SELECT ... WHERE state = 0
//                    ORDER BY id LIMIT K FOR UPDATE SKIP LOCKED, and the UPDATE to state 1 with
//                    attempts + 1 and the thread's node id, as one statement), a second one
//                    completes them (state 2 WHERE id = ANY(ids) AND state = 1 AND node_id =
//                    the thread's, conditional on still owning them, as a scheduler's outcome
//                    write is). Timed from all threads connected to all threads done.
//   --naive-insert   the anchor for batchd's submit: inserts N rows into the same table with a
//                    loop of multi-row INSERT statements (--rows-per-statement, 1000 by
//                    default, the values written into the SQL text), each its own transaction,
//                    as a naive client does. Timed from the first INSERT to the last commit.
//
// The table (--table, default pg_claim_limit_session) is dropped and created fresh: id bigint
// primary key, batch_id, state smallint, attempts, node_id, and a partial index on id WHERE
// state = 0 (what a claim scans). Afterwards (untimed) it checks that every row is there, and
// in claim mode that every row is completed with one attempt; the table is dropped unless
// --keep-table.
//
// usage: pg_claim_limit --conninfo URI [--rows N] [--threads T] [--claim K] [--table NAME]
//                       [--keep-table]
//        pg_claim_limit --naive-insert --conninfo URI [--rows N] [--rows-per-statement R]
//                       [--table NAME] [--keep-table]
// Prints a small table, then one JSON line. Exit 0 on success, 1 if something failed (a
// connection, a statement, the check), 2 on bad usage.
#include <libpq-fe.h>

#include <algorithm>
#include <barrier>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string conninfo;
  bool naive_insert = false;
  int64_t rows = 1'000'000;
  int threads = 1;
  int64_t claim = 4096;
  int64_t rows_per_statement = 1000;
  std::string table = "pg_claim_limit_session";
  bool keep_table = false;
};

// A failed connection or statement; the message is libpq's. Caught in main (or in a thread,
// which hands it to main).
struct PgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Res = std::unique_ptr<PGresult, decltype(&PQclear)>;

Conn Connect(const std::string& conninfo) {
  Conn conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    throw PgError("cannot connect: " +
                  std::string(conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  return conn;
}

// Throws unless the result has the wanted status; returns it otherwise.
Res Check(PGconn* conn, PGresult* raw, ExecStatusType wanted, const std::string& what) {
  Res res(raw, &PQclear);
  if (!res || PQresultStatus(res.get()) != wanted) {
    throw PgError(what + ": " + PQerrorMessage(conn));
  }
  return res;
}

Res Exec(PGconn* conn, const std::string& sql, ExecStatusType wanted = PGRES_COMMAND_OK) {
  return Check(conn, PQexec(conn, sql.c_str()), wanted, sql.substr(0, 80));
}

std::string Show(PGconn* conn, const char* setting) {
  Res res = Exec(conn, std::string("SHOW ") + setting, PGRES_TUPLES_OK);
  return PQgetvalue(res.get(), 0, 0);
}

void CreateTable(PGconn* conn, const std::string& table) {
  Exec(conn, "SET client_min_messages = warning");  // no NOTICE for a table that is not there
  Exec(conn, "DROP TABLE IF EXISTS " + table);
  Exec(conn, "CREATE TABLE " + table +
                 " (id bigint PRIMARY KEY, batch_id bigint NOT NULL, state smallint NOT NULL "
                 "DEFAULT 0, attempts integer NOT NULL DEFAULT 0, node_id bigint)");
  Exec(conn, "CREATE INDEX " + table + "_claimable ON " + table + " (id) WHERE state = 0");
}

// Untimed: rows (id, batch_id, state, attempts, node_id) = (1 + i, 1, 0, 0, NULL) by COPY.
void Fill(PGconn* conn, const std::string& table, int64_t rows) {
  Check(conn,
        PQexec(conn,
               ("COPY " + table + " (id, batch_id, state, attempts, node_id) FROM STDIN").c_str()),
        PGRES_COPY_IN, "COPY");
  std::string buffer;
  constexpr size_t kFlushBytes = size_t{1} << 20;
  for (int64_t id = 1; id <= rows; ++id) {
    buffer += std::to_string(id);
    buffer += "\t1\t0\t0\t\\N\n";
    if (buffer.size() >= kFlushBytes || id == rows) {
      if (PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) != 1) {
        throw PgError(std::string("COPY data: ") + PQerrorMessage(conn));
      }
      buffer.clear();
    }
  }
  if (PQputCopyEnd(conn, nullptr) != 1)
    throw PgError(std::string("COPY end: ") + PQerrorMessage(conn));
  Check(conn, PQgetResult(conn), PGRES_COMMAND_OK, "COPY");
  while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  // Start the timed part from a table with statistics and a visibility map, and with the fill's
  // dirty pages written (CHECKPOINT needs a superuser or pg_checkpoint: skipped without).
  Exec(conn, "VACUUM ANALYZE " + table);
  PQclear(PQexec(conn, "CHECKPOINT"));
}

// What one claiming thread did.
struct Worker {
  int64_t completed = 0;
  int64_t claims = 0;        // claim transactions that returned rows
  int64_t empty_claims = 0;  // the last one, which found nothing left (or all locked)
  std::string error;
};

// One thread's loop on its own connection (already connected, statements prepared): claim up
// to K rows, complete them, until a claim finds none.
void ClaimLoop(PGconn* conn, int64_t node_id, int64_t claim, Worker& w) {
  const std::string node = std::to_string(node_id);
  const std::string k = std::to_string(claim);
  std::string ids;
  for (;;) {
    const char* claim_params[] = {k.c_str(), node.c_str()};
    Res claimed = Check(conn, PQexecPrepared(conn, "claim", 2, claim_params, nullptr, nullptr, 0),
                        PGRES_TUPLES_OK, "claim");
    const int n = PQntuples(claimed.get());
    if (n == 0) {
      ++w.empty_claims;
      return;
    }
    ++w.claims;
    ids.assign("{");
    for (int i = 0; i < n; ++i) {
      if (i) ids += ',';
      ids += PQgetvalue(claimed.get(), i, 0);
    }
    ids += '}';
    const char* complete_params[] = {ids.c_str(), node.c_str()};
    Res done =
        Check(conn, PQexecPrepared(conn, "complete", 2, complete_params, nullptr, nullptr, 0),
              PGRES_COMMAND_OK, "complete");
    const int64_t updated = std::atoll(PQcmdTuples(done.get()));
    if (updated != n) {
      throw PgError("complete updated " + std::to_string(updated) + " of " + std::to_string(n) +
                    " claimed rows");
    }
    w.completed += n;
  }
}

void Prepare(PGconn* conn, const std::string& table) {
  // Each statement is its own transaction (autocommit): the claim is the locking SELECT and the
  // UPDATE of what it locked in one statement, so it costs one round trip and one commit.
  Check(conn,
        PQprepare(conn, "claim",
                  ("WITH next AS (SELECT id FROM " + table +
                   " WHERE state = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) UPDATE " + table +
                   " AS s SET state = 1, attempts = s.attempts + 1, node_id = $2 FROM next "
                   "WHERE s.id = next.id RETURNING s.id")
                      .c_str(),
                  2, nullptr),
        PGRES_COMMAND_OK, "prepare claim");
  Check(conn,
        PQprepare(conn, "complete",
                  ("UPDATE " + table +
                   " SET state = 2 WHERE id = ANY($1::bigint[]) AND state = 1 AND node_id = $2")
                      .c_str(),
                  2, nullptr),
        PGRES_COMMAND_OK, "prepare complete");
}

double Rate(int64_t rows, double seconds) {
  return seconds > 0 ? static_cast<double>(rows) / seconds : 0.0;
}

nlohmann::json Settings(PGconn* conn) {
  nlohmann::json s;
  for (const char* name : {"server_version", "fsync", "synchronous_commit", "wal_level",
                           "full_page_writes", "shared_buffers", "max_wal_size"}) {
    s[name] = Show(conn, name);
  }
  return s;
}

int RunClaim(const Options& o) {
  Conn admin = Connect(o.conninfo);
  const nlohmann::json settings = Settings(admin.get());
  CreateTable(admin.get(), o.table);
  Fill(admin.get(), o.table, o.rows);

  std::vector<Conn> conns;
  for (int t = 0; t < o.threads; ++t) {
    conns.push_back(Connect(o.conninfo));
    Prepare(conns.back().get(), o.table);
  }
  std::vector<Worker> workers(static_cast<size_t>(o.threads));
  std::barrier start(o.threads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      try {
        ClaimLoop(conns[t].get(), t + 1, o.claim, workers[t]);
      } catch (const std::exception& e) {
        workers[t].error = e.what();
      }
    });
  }
  start.arrive_and_wait();
  const Clock::time_point t0 = Clock::now();
  for (std::thread& th : threads) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  int64_t completed = 0;
  int64_t claims = 0;
  nlohmann::json per_thread = nlohmann::json::array();
  for (const Worker& w : workers) {
    if (!w.error.empty()) throw PgError(w.error);
    completed += w.completed;
    claims += w.claims;
    per_thread.push_back({{"completed", w.completed}, {"claims", w.claims}});
  }
  Res check =
      Exec(admin.get(),
           "SELECT count(*), count(*) FILTER (WHERE state = 2 AND attempts = 1) FROM " + o.table,
           PGRES_TUPLES_OK);
  const int64_t total = std::atoll(PQgetvalue(check.get(), 0, 0));
  const int64_t done_once = std::atoll(PQgetvalue(check.get(), 0, 1));
  if (completed != o.rows || total != o.rows || done_once != o.rows) {
    throw PgError("check: " + std::to_string(completed) + " completed by the threads, " +
                  std::to_string(done_once) + " of " + std::to_string(total) +
                  " rows completed once; expected " + std::to_string(o.rows));
  }
  if (!o.keep_table) Exec(admin.get(), "DROP TABLE " + o.table);

  const double rate = Rate(o.rows, seconds);
  std::printf("%-14s %10s %8s %8s %10s %12s %14s\n", "mode", "rows", "threads", "claim", "seconds",
              "rows/s", "transactions");
  std::printf("%-14s %10lld %8d %8lld %10.3f %12.0f %14lld\n", "claim+complete",
              static_cast<long long>(o.rows), o.threads, static_cast<long long>(o.claim), seconds,
              rate, static_cast<long long>(2 * claims + o.threads));
  const nlohmann::json out = {{"anchor", "pg_claim_limit"},
                              {"mode", "claim"},
                              {"rows", o.rows},
                              {"threads", o.threads},
                              {"claim", o.claim},
                              {"seconds", seconds},
                              {"rows_per_s", rate},
                              // claim + complete transactions, and each thread's final empty claim
                              {"transactions", 2 * claims + o.threads},
                              {"per_thread", per_thread},
                              {"settings", settings}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int RunNaiveInsert(const Options& o) {
  Conn conn = Connect(o.conninfo);
  const nlohmann::json settings = Settings(conn.get());
  CreateTable(conn.get(), o.table);
  std::string sql;
  int64_t statements = 0;
  const Clock::time_point t0 = Clock::now();
  for (int64_t first = 1; first <= o.rows; first += o.rows_per_statement) {
    const int64_t last = std::min(o.rows, first + o.rows_per_statement - 1);
    sql.assign("INSERT INTO " + o.table + " (id, batch_id, state, attempts) VALUES ");
    for (int64_t id = first; id <= last; ++id) {
      if (id != first) sql += ',';
      sql += '(';
      sql += std::to_string(id);
      sql += ",1,0,0)";
    }
    Exec(conn.get(), sql);
    ++statements;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  Res check = Exec(conn.get(), "SELECT count(*) FROM " + o.table, PGRES_TUPLES_OK);
  if (const int64_t n = std::atoll(PQgetvalue(check.get(), 0, 0)); n != o.rows) {
    throw PgError("check: " + std::to_string(n) + " rows, expected " + std::to_string(o.rows));
  }
  if (!o.keep_table) Exec(conn.get(), "DROP TABLE " + o.table);

  const double rate = Rate(o.rows, seconds);
  std::printf("%-14s %10s %14s %10s %12s\n", "mode", "rows", "rows/statement", "seconds", "rows/s");
  std::printf("%-14s %10lld %14lld %10.3f %12.0f\n", "naive insert", static_cast<long long>(o.rows),
              static_cast<long long>(o.rows_per_statement), seconds, rate);
  const nlohmann::json out = {{"anchor", "pg_claim_limit"},
                              {"mode", "naive_insert"},
                              {"rows", o.rows},
                              {"rows_per_statement", o.rows_per_statement},
                              {"statements", statements},
                              {"seconds", seconds},
                              {"rows_per_s", rate},
                              {"settings", settings}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int Usage(const std::string& message) {
  std::fprintf(stderr,
               "%s\nusage: pg_claim_limit --conninfo URI [--rows N] [--threads T] [--claim K] "
               "[--table NAME] [--keep-table]\n"
               "       pg_claim_limit --naive-insert --conninfo URI [--rows N] "
               "[--rows-per-statement R] [--table NAME] [--keep-table]\n",
               message.c_str());
  return 2;
}

// A positive integer, or 0 if the text is not one.
int64_t ParsePositive(const char* text) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' && v > 0 ? v : 0;
}

bool ValidTableName(const std::string& name) {
  return !name.empty() && name.size() < 50 && !std::isdigit(static_cast<unsigned char>(name[0])) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    int64_t* count = arg == "--rows"                 ? &o.rows
                     : arg == "--claim"              ? &o.claim
                     : arg == "--rows-per-statement" ? &o.rows_per_statement
                                                     : nullptr;
    if (count && has_value) {
      if ((*count = ParsePositive(argv[++i])) == 0) return Usage(arg + " takes a positive integer");
    } else if (arg == "--threads" && has_value) {
      const int64_t t = ParsePositive(argv[++i]);
      if (t == 0 || t > 256) return Usage("--threads takes 1..256");
      o.threads = static_cast<int>(t);
    } else if (arg == "--conninfo" && has_value) {
      o.conninfo = argv[++i];
    } else if (arg == "--table" && has_value) {
      o.table = argv[++i];
      if (!ValidTableName(o.table)) return Usage("--table takes a lower-case SQL name");
    } else if (arg == "--naive-insert") {
      o.naive_insert = true;
    } else if (arg == "--keep-table") {
      o.keep_table = true;
    } else {
      return Usage("unknown argument " + arg);
    }
  }
  if (o.conninfo.empty()) return Usage("--conninfo is required");
  try {
    return o.naive_insert ? RunNaiveInsert(o) : RunClaim(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_claim_limit: %s\n", e.what());
    return 1;
  }
}
