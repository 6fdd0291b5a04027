// One libpq connection to the PostgreSQL store, with the few operations the store needs:
// parameterized statements (text parameters, text results, bytea in and out), COPY FROM STDIN,
// LISTEN and waiting for notifications. No SQL of the store's lives here.
//
// Errors: a statement that fails answers a Status and leaves the connection usable (inside a
// transaction, the transaction is then aborted: roll it back). Codes:
//   kUnavailable  the server went away or cannot be reached (SQLSTATE class 08, 57P01...), or
//                 a serialization failure / deadlock (40001, 40P01): try again;
//   kConflict     a unique or foreign key violation (class 23);
//   kIoError      anything else the server refused.
// The message names the SQLSTATE and the server's text. IsBroken() tells whether the
// connection itself is lost (then Reconnect()).
//
// Threading: a connection is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/status.h"

struct pg_conn;
struct pg_result;

namespace batchd::storage::pg {

// A statement parameter: NULL, text, or bytes (sent in binary, for bytea columns).
class PgParam {
 public:
  static PgParam Null() { return PgParam(std::nullopt, false); }
  static PgParam Text(std::string text) { return PgParam(std::move(text), false); }
  static PgParam Int(int64_t value) { return PgParam(std::to_string(value), false); }
  static PgParam Bytes(std::string bytes) { return PgParam(std::move(bytes), true); }
  template <typename T>
  static PgParam Optional(const std::optional<T>& value) {
    if (!value) return Null();
    if constexpr (std::is_integral_v<T>) {
      return Int(static_cast<int64_t>(*value));
    } else {
      return Text(std::string(*value));
    }
  }

  const std::optional<std::string>& value() const { return value_; }
  bool binary() const { return binary_; }

 private:
  PgParam(std::optional<std::string> value, bool binary)
      : value_(std::move(value)), binary_(binary) {}
  std::optional<std::string> value_;
  bool binary_;
};

// The rows a statement returned, in text format. Owns the libpq result.
class PgResult {
 public:
  explicit PgResult(pg_result* result);
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  int columns() const;
  // Rows an UPDATE/INSERT/DELETE/COPY touched.
  int64_t affected() const;
  std::string_view command_tag() const;  // "UPDATE 3", "COMMIT", "ROLLBACK", ...
  pg_result* raw() const { return result_; }

  bool IsNull(int row, int column) const;
  std::string_view Text(int row, int column) const;  // "" for NULL
  int64_t Int(int row, int column) const;            // 0 for NULL
  double Double(int row, int column) const;          // 0 for NULL
  bool Bool(int row, int column) const;              // 't' / nonzero
  std::string Bytes(int row, int column) const;      // a bytea column, unescaped
  std::optional<int64_t> OptionalInt(int row, int column) const;
  std::optional<std::string> OptionalText(int row, int column) const;
  std::optional<double> OptionalDouble(int row, int column) const;

 private:
  pg_result* result_;
};

struct PgNotification {
  std::string channel;
  std::string payload;
};

class PgConnection {
 public:
  // Connects to `uri` (postgresql://USER@HOST:PORT/DB or a conninfo string). kUnavailable if
  // the server cannot be reached, kInvalidArgument if the URI does not parse.
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& uri);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement (no ';'-separated lists when there are parameters).
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params = {});
  // Runs statements that return nothing of interest (may be a ';'-separated script when no
  // parameters are given).
  Status Run(std::string_view sql, const std::vector<PgParam>& params = {});

  // COPY ... FROM STDIN with `data` in the COPY text format; sent in pieces. Answers the rows
  // copied.
  Result<int64_t> CopyIn(std::string_view copy_sql, std::string_view data);

  // LISTEN on `channel` (an identifier: [a-z_]+).
  Status Listen(std::string_view channel);
  // Waits up to `timeout` for notifications and returns those that arrived (maybe none).
  // kUnavailable if the connection broke.
  Result<std::vector<PgNotification>> WaitForNotifications(std::chrono::milliseconds timeout);

  bool IsBroken() const;
  // Connects again with the same URI (after IsBroken()); LISTENs must be repeated.
  Status Reconnect();

  const std::string& uri() const { return uri_; }

 private:
  PgConnection(std::string uri, pg_conn* conn) : uri_(std::move(uri)), conn_(conn) {}
  Status StatusOf(pg_result* result, std::string_view what) const;

  std::string uri_;
  pg_conn* conn_;
};

// A transaction on a connection: Begin() at construction (check ok()), Commit() to keep it,
// rolled back by the destructor otherwise.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& conn);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  const Status& begun() const { return begun_; }
  Status Commit();

 private:
  PgConnection& conn_;
  Status begun_;
  bool open_ = false;
};

// Escapes `text` for a field of COPY's text format (backslash, tab, newline, carriage return).
void AppendCopyField(std::string& out, std::string_view text);

}  // namespace batchd::storage::pg
