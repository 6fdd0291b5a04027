// A write job that runs one function in one step: the shape of every small mutation (cancel,
// pause, retry, delete). The function's error rolls back its savepoint and is passed to `done`.
#pragma once

#include <functional>
#include <optional>

#include "storage/store.h"
#include "storage/writer.h"

namespace batchd::storage {

template <typename T>
class FunctionJob : public WriteJob {
 public:
  using Fn = std::function<Result<T>(SQLite::Database&)>;
  FunctionJob(Fn fn, Callback<T> done) : fn_(std::move(fn)), done_(std::move(done)) {}

  Result<Progress> Step(SQLite::Database& db) override {
    Result<T> r = fn_(db);
    if (!r.ok()) return r.status();
    value_.emplace(std::move(r).value());
    return Progress::kDone;
  }
  void Complete() override { done_(std::move(*value_)); }
  void Fail(SQLite::Database&, const Status& status) override { done_(status); }

 private:
  Fn fn_;
  Callback<T> done_;
  std::optional<T> value_;
};

}  // namespace batchd::storage
