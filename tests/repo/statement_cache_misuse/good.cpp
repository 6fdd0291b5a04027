// Compiles: the uses StatementCache is built for (the control for the misuse cases beside it).
#include "storage/statement_cache.h"

void Good(batchd::storage::StatementCache& cache) {
  cache.Use("SELECT 1");
  static const batchd::storage::GeneratedSql generated(std::string("SELECT ") + "2");
  cache.Use(generated);
}
