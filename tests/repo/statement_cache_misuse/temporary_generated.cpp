// Must not compile: a GeneratedSql temporary dies at the end of the statement.
#include "storage/statement_cache.h"

void Bad(batchd::storage::StatementCache& cache) {
  cache.Use(batchd::storage::GeneratedSql("SELECT 1"));
}
