# Writes OUTPUT, a C++ file holding every migrations/NNNN_name.sql as a string, so the daemon
# carries its schema inside the binary. Run by storage/CMakeLists.txt at build time, once for the
# SQLite migrations and once for migrations/postgres/ (FUNCTION names the function it defines,
# NAMESPACE its namespace; both default to the SQLite ones).
if(NOT FUNCTION)
  set(FUNCTION EmbeddedMigrations)
endif()
if(NOT NAMESPACE)
  set(NAMESPACE batchd::storage)
endif()
file(GLOB sql_files "${MIGRATIONS_DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT sql_files)
set(body "")
foreach(f IN LISTS sql_files)
  get_filename_component(name "${f}" NAME)
  string(SUBSTRING "${name}" 0 4 version)
  math(EXPR version "${version}")  # drops leading zeros
  file(READ "${f}" sql)
  string(APPEND body "    {${version}, \"${name}\", R\"batchd_sql(${sql})batchd_sql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from migrations/*.sql by cmake/EmbedMigrations.cmake. Do not edit.
#include \"storage/migrations.h\"

namespace ${NAMESPACE} {

const std::vector<batchd::storage::Migration>& ${FUNCTION}() {
  static const std::vector<batchd::storage::Migration> kMigrations = {
${body}  };
  return kMigrations;
}

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
