# Writes OUTPUT, a C++ file defining `std::string_view FUNCTION()` (in batchd::api) that returns
# the contents of INPUT, declared in HEADER. Run at build time (api/CMakeLists.txt), so a
# document kept as a plain file in the repo (api/openapi.json) is served from the binary.
file(READ "${INPUT}" content)
string(FIND "${content}" ")batchd_doc\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )batchd_doc\"")
endif()
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by cmake/EmbedFile.cmake. Do not edit.
#include \"${HEADER}\"

namespace batchd::api {

std::string_view ${FUNCTION}() {
  static constexpr std::string_view kContent = R\"batchd_doc(${content})batchd_doc\";
  return kContent;
}

}  // namespace batchd::api
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
