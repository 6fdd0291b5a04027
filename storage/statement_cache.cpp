#include "storage/statement_cache.h"

#include <SQLiteCpp/Exception.h>

namespace batchd::storage {

StatementCache::Lease::~Lease() {
  // tryReset never throws; the step's error, if any, was already reported to whoever stepped.
  statement_.tryReset();
  try {
    statement_.clearBindings();  // sqlite3_clear_bindings cannot fail, but SQLiteCpp checks
  } catch (const SQLite::Exception&) {
  }
}

StatementCache::Lease StatementCache::UseText(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
  }
  return Lease(*it->second);
}

}  // namespace batchd::storage
