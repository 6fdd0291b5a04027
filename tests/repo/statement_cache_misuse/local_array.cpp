// Must not compile: a local array is not a literal; its address is reused by later frames.
#include "storage/statement_cache.h"

void Bad(batchd::storage::StatementCache& cache) {
  char sql[] = "SELECT 1";
  cache.Use(sql);
}
