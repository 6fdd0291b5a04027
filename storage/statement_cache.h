// Prepared statements of one connection, kept for reuse. The writer runs the same dozen
// statements for every claim and every outcome flush; preparing one (tokenizing, parsing,
// planning) costs several times more than running it on a handful of rows, so with small
// claims (one slot per core) re-preparing dominated the writer's time.
//
// Threads: only the thread that uses the connection. Ownership: the cache borrows the
// connection and must be cleared or destroyed before it closes (SQLite refuses to close a
// connection that still has prepared statements).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

namespace batchd::storage {

// The cache finds statements by the address of their text, because hashing the text of every
// statement run was measurable. So the text must live as long as the cache, and no other text
// may ever reuse its address: the two key types below make any other use fail to compile.

// SQL written in the source as a string literal. The constructor is consteval, so only a
// constant expression binds: `Use("SELECT 1")` compiles, `Use(query.c_str())` and a local
// char array do not.
class SqlLiteral {
 public:
  template <size_t N>
  consteval SqlLiteral(const char (&sql)[N]) : text_(sql) {}  // NOLINT: implicit on purpose
  const char* text() const { return text_; }

 private:
  const char* text_;
};

// SQL built at run time (e.g. a multi-row INSERT for N rows), owned for as long as the cache
// may use it: keep it in a static or a member that outlives the cache. Neither copyable nor
// movable, so its text never changes address; StatementCache::Use refuses a temporary.
class GeneratedSql {
 public:
  explicit GeneratedSql(std::string sql) : sql_(std::move(sql)) {}
  GeneratedSql(const GeneratedSql&) = delete;
  GeneratedSql& operator=(const GeneratedSql&) = delete;
  const char* text() const { return sql_.c_str(); }

 private:
  const std::string sql_;
};

class StatementCache {
 public:
  explicit StatementCache(SQLite::Database& db) : db_(db) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // A statement lent for one use. When the lease ends the statement is reset and its
  // bindings cleared, so no half-stepped read stays open into the next COMMIT and no value
  // bound for one use leaks into the next.
  class Lease {
   public:
    explicit Lease(SQLite::Statement& statement) : statement_(statement) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    SQLite::Statement& operator*() const { return statement_; }
    SQLite::Statement* operator->() const { return &statement_; }

   private:
    SQLite::Statement& statement_;
  };

  // The statement for `sql`, prepared on first use. Throws SQLite::Exception if `sql` does
  // not compile, like SQLite::Statement's constructor. Two leases of the same SQL must not
  // overlap.
  Lease Use(SqlLiteral sql) { return UseText(sql.text()); }
  Lease Use(const GeneratedSql& sql) { return UseText(sql.text()); }
  // A temporary's text would die with it and its address could be reused by the next one.
  Lease Use(const GeneratedSql&& sql) = delete;

  SQLite::Database& db() const { return db_; }

  // Finalizes every statement (before the connection closes).
  void Clear() { statements_.clear(); }

 private:
  Lease UseText(const char* sql);

  SQLite::Database& db_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace batchd::storage
