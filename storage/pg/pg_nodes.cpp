#include "storage/pg/pg_nodes.h"

namespace batchd::storage::pg {

Result<std::unique_ptr<PgNodeKeeper>> PgNodeKeeper::Start(PgNodeOptions) {
  return Status::Internal("PostgreSQL node keeper: not written yet");
}

Result<std::vector<NodeRecord>> QueryNodes(PgConnection&) {
  return Status::Internal("PostgreSQL QueryNodes: not written yet");
}

}  // namespace batchd::storage::pg
