// Status and Result<T>: how every fallible call crosses a module boundary in batchd.
//
// A Status is OK (cheap: no allocation) or carries a Code, a human message and, for errors
// about a request document, the JSON Pointer of the offending part (`path`). Exceptions from
// SQLiteCpp, nlohmann::json or Beast are caught inside their own folder and turned into a
// Status; they never cross into another module.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace batchd {

enum class StatusCode {
  kOk = 0,
  kMalformed,           // the input could not be parsed at all (bad JSON, bad number)
  kInvalidArgument,     // parsed, but violates the contract (wrong type, unknown field, ...)
  kNotFound,            // the addressed thing does not exist
  kConflict,            // exists, but its state forbids the operation
  kLimitExceeded,       // a configured limit was hit (sessions per batch, body size, ...)
  kUnavailable,         // try again later: a queue is full or the daemon is stopping
  kFailedPrecondition,  // the environment is wrong (e.g. a database from a newer version)
  kIoError,             // the filesystem or SQLite failed underneath us
  kCorrupt,             // stored data cannot be decoded (a damaged or truncated chunk)
  kInternal,            // a bug: an invariant did not hold
};

// Stable lower_snake name of a code, for logs.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string path = {})
      : rep_(code == StatusCode::kOk
                 ? nullptr
                 : std::make_shared<const Rep>(Rep{code, std::move(message), std::move(path)})) {}

  static Status Ok() { return Status(); }
  static Status Malformed(std::string m, std::string path = {}) {
    return {StatusCode::kMalformed, std::move(m), std::move(path)};
  }
  static Status InvalidArgument(std::string m, std::string path = {}) {
    return {StatusCode::kInvalidArgument, std::move(m), std::move(path)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status LimitExceeded(std::string m, std::string path = {}) {
    return {StatusCode::kLimitExceeded, std::move(m), std::move(path)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // Empty for OK.
  const std::string& message() const { return rep_ ? rep_->message : Empty(); }
  // JSON Pointer into the request document that caused the error; empty when not applicable.
  const std::string& path() const { return rep_ ? rep_->path : Empty(); }
  // "code: message (at path)", for logs and test failure output.
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::string path;
  };
  static const std::string& Empty();
  std::shared_ptr<const Rep> rep_;  // null means OK; shared so copies are cheap
};

// A value or the Status explaining why there is none. Never holds an OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace batchd

#define BATCHD_CONCAT_INNER(a, b) a##b
#define BATCHD_CONCAT(a, b) BATCHD_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::batchd::Status batchd_status_ = (expr);        \
    if (!batchd_status_.ok()) return batchd_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(BATCHD_CONCAT(batchd_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
