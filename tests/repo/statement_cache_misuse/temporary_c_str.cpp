// Must not compile: the text of a temporary string dies at the end of the statement, and the
// next string's text may get its address, silently running the wrong statement.
#include <string>

#include "storage/statement_cache.h"

void Bad(batchd::storage::StatementCache& cache, int n) {
  cache.Use(("SELECT " + std::to_string(n)).c_str());
}
