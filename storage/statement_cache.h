// Prepared statements of one connection, kept for reuse. The writer runs the same dozen
// statements for every claim and every outcome flush; preparing one (tokenizing, parsing,
// planning) costs several times more than running it on a handful of rows, so with small
// claims (one slot per core) re-preparing dominated the writer's time.
//
// Threads: only the thread that uses the connection. Ownership: the cache borrows the
// connection and must be cleared or destroyed before it closes (SQLite refuses to close a
// connection that still has prepared statements).
#pragma once

#include <memory>
#include <unordered_map>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

namespace batchd::storage {

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
  //
  // `sql` must be a string literal (or live as long as the cache): statements are found by the
  // text's address, because hashing the text of every statement run was measurable.
  Lease Use(const char* sql);

  SQLite::Database& db() const { return db_; }

  // Finalizes every statement (before the connection closes).
  void Clear() { statements_.clear(); }

 private:
  SQLite::Database& db_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace batchd::storage
