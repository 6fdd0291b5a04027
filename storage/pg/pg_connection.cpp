#include "storage/pg/pg_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace batchd::storage::pg {
namespace {

// A server error's Status by its SQLSTATE class (see the header).
Status StatusForSqlState(std::string_view sqlstate, std::string message) {
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "40001" || sqlstate == "40P01") {
    return Status::Unavailable(std::move(message));
  }
  if (sqlstate.starts_with("23")) return Status::Conflict(std::move(message));
  return Status::IoError(std::move(message));
}

std::string TrimmedError(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

PgResult::PgResult(pg_result* result) : result_(result) {}
PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}
PgResult::PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

std::string_view PgResult::command_tag() const {
  const char* tag = PQcmdStatus(result_);
  return tag != nullptr ? tag : "";
}
int PgResult::rows() const { return PQntuples(result_); }
int PgResult::columns() const { return PQnfields(result_); }
int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(result_);
  return (n == nullptr || *n == '\0') ? 0 : std::strtoll(n, nullptr, 10);
}
bool PgResult::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
std::string_view PgResult::Text(int row, int column) const {
  return {PQgetvalue(result_, row, column), static_cast<size_t>(PQgetlength(result_, row, column))};
}
int64_t PgResult::Int(int row, int column) const {
  return IsNull(row, column) ? 0 : std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
}
double PgResult::Double(int row, int column) const {
  return IsNull(row, column) ? 0 : std::strtod(PQgetvalue(result_, row, column), nullptr);
}
bool PgResult::Bool(int row, int column) const {
  std::string_view t = Text(row, column);
  return t == "t" || t == "true" || (!t.empty() && t != "0" && t != "f" && t != "false");
}
std::string PgResult::Bytes(int row, int column) const {
  if (IsNull(row, column)) return {};
  size_t length = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column)), &length);
  if (raw == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}
std::optional<int64_t> PgResult::OptionalInt(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Int(row, column);
}
std::optional<std::string> PgResult::OptionalText(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return std::string(Text(row, column));
}
std::optional<double> PgResult::OptionalDouble(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Double(row, column);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& uri) {
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error != nullptr ? TrimmedError(parse_error) : "out of memory";
    if (parse_error != nullptr) PQfreemem(parse_error);
    return Status::InvalidArgument("--store: " + why);
  }
  PQconninfoFree(parsed);
  pg_conn* conn = PQconnectdb(uri.c_str());
  if (conn == nullptr) return Status::Unavailable("connecting to PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = TrimmedError(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable("connecting to PostgreSQL: " + why);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(uri, conn));
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Status PgConnection::StatusOf(pg_result* result, std::string_view what) const {
  if (result == nullptr) {
    return Status::Unavailable(std::string(what) + ": " + TrimmedError(PQerrorMessage(conn_)));
  }
  ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN) {
    return Status::Ok();
  }
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = TrimmedError(PQresultErrorMessage(result));
  if (message.empty()) message = TrimmedError(PQerrorMessage(conn_));
  std::string text = std::string(what) + ": " + message;
  if (sqlstate == nullptr) return Status::Unavailable(text);  // no server answer: connection
  text += " (SQLSTATE " + std::string(sqlstate) + ")";
  return StatusForSqlState(sqlstate, std::move(text));
}

Result<PgResult> PgConnection::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  std::string statement(sql);
  pg_result* raw = nullptr;
  if (params.empty()) {
    raw = PQexec(conn_, statement.c_str());
  } else {
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& v = params[i].value();
      values[i] = v ? v->data() : nullptr;
      lengths[i] = v ? static_cast<int>(v->size()) : 0;
      formats[i] = params[i].binary() ? 1 : 0;
    }
    raw = PQexecParams(conn_, statement.c_str(), static_cast<int>(params.size()), nullptr,
                       values.data(), lengths.data(), formats.data(), 0);
  }
  PgResult result(raw);
  if (Status s = StatusOf(raw, "PostgreSQL"); !s.ok()) return s;
  return result;
}

Status PgConnection::Run(std::string_view sql, const std::vector<PgParam>& params) {
  Result<PgResult> r = Exec(sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

Result<int64_t> PgConnection::CopyIn(std::string_view copy_sql, std::string_view data) {
  std::string statement(copy_sql);
  PgResult start(PQexec(conn_, statement.c_str()));
  if (Status s = StatusOf(start.raw(), "PostgreSQL COPY"); !s.ok()) return s;
  if (PQresultStatus(start.raw()) != PGRES_COPY_IN) {
    return Status::Internal("PostgreSQL COPY: the statement is not a COPY FROM STDIN");
  }
  constexpr size_t kPiece = 1 << 20;
  Status sent = Status::Ok();
  for (size_t at = 0; at < data.size() && sent.ok(); at += kPiece) {
    size_t n = std::min(kPiece, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1) {
      sent = Status::Unavailable("PostgreSQL COPY: " + TrimmedError(PQerrorMessage(conn_)));
    }
  }
  if (PQputCopyEnd(conn_, sent.ok() ? nullptr : "client failed") != 1 && sent.ok()) {
    sent = Status::Unavailable("PostgreSQL COPY: " + TrimmedError(PQerrorMessage(conn_)));
  }
  // The COPY's own result, then the end of results.
  Status finished = Status::Ok();
  int64_t rows = 0;
  while (pg_result* raw = PQgetResult(conn_)) {
    PgResult r(raw);
    if (Status s = StatusOf(raw, "PostgreSQL COPY"); !s.ok() && finished.ok()) finished = s;
    rows += r.affected();
  }
  if (!sent.ok()) return sent;
  if (!finished.ok()) return finished;
  return rows;
}

Status PgConnection::Listen(std::string_view channel) {
  for (char c : channel) {
    if (!(c == '_' || (c >= 'a' && c <= 'z'))) {
      return Status::InvalidArgument("LISTEN channel must be [a-z_]+");
    }
  }
  return Run("LISTEN " + std::string(channel));
}

Result<std::vector<PgNotification>> PgConnection::WaitForNotifications(
    std::chrono::milliseconds timeout) {
  std::vector<PgNotification> out;
  auto drain = [&] {
    while (PGnotify* n = PQnotifies(conn_)) {
      out.push_back({n->relname, n->extra != nullptr ? n->extra : ""});
      PQfreemem(n);
    }
  };
  if (PQconsumeInput(conn_) != 1) {
    return Status::Unavailable("PostgreSQL: " + TrimmedError(PQerrorMessage(conn_)));
  }
  drain();
  if (!out.empty()) return out;
  pollfd fd{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
  if (fd.fd < 0) return Status::Unavailable("PostgreSQL: the connection is closed");
  int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) {
    return Status::Unavailable(std::string("PostgreSQL: poll: ") + std::strerror(errno));
  }
  if (ready > 0) {
    if (PQconsumeInput(conn_) != 1) {
      return Status::Unavailable("PostgreSQL: " + TrimmedError(PQerrorMessage(conn_)));
    }
    drain();
  }
  return out;
}

bool PgConnection::IsBroken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

Status PgConnection::Reconnect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = PQconnectdb(uri_.c_str());
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return Status::Unavailable("connecting to PostgreSQL: " +
                               TrimmedError(conn_ ? PQerrorMessage(conn_) : "out of memory"));
  }
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  return Status::Ok();
}

PgTransaction::PgTransaction(PgConnection& conn) : conn_(conn) {
  begun_ = conn_.Run("BEGIN");
  open_ = begun_.ok();
}

PgTransaction::~PgTransaction() {
  if (open_) (void)conn_.Run("ROLLBACK");
}

Status PgTransaction::Commit() {
  if (!open_) return begun_.ok() ? Status::Internal("transaction already ended") : begun_;
  open_ = false;
  ASSIGN_OR_RETURN(PgResult r, conn_.Exec("COMMIT"));
  // COMMIT of a transaction a failed statement aborted "succeeds" as a ROLLBACK.
  if (r.command_tag() == "ROLLBACK") {
    return Status::IoError(
        "PostgreSQL: the transaction was rolled back (a statement in it failed)");
  }
  return Status::Ok();
}

void AppendCopyField(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace batchd::storage::pg
