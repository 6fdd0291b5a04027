# Writes OUTPUT, a C++ file holding every file under FILES_DIR (the dashboard, web/) as a
# string, so the daemon serves its dashboard from inside the binary. Run by api/CMakeLists.txt
# at build time. Names are paths relative to FILES_DIR ("app.js", "views/list.js").
file(GLOB_RECURSE files RELATIVE "${FILES_DIR}" "${FILES_DIR}/*")
list(SORT files)
set(body "")
foreach(name IN LISTS files)
  file(READ "${FILES_DIR}/${name}" content)
  string(FIND "${content}" ")batchd_web\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${name} contains the raw-string delimiter )batchd_web\"")
  endif()
  string(APPEND body "    {\"${name}\", R\"batchd_web(${content})batchd_web\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from web/ by cmake/EmbedFiles.cmake. Do not edit.
#include \"api/static_files.h\"

namespace batchd::api {

const std::vector<EmbeddedFile>& EmbeddedWebFiles() {
  static const std::vector<EmbeddedFile> kFiles = {
${body}  };
  return kFiles;
}

}  // namespace batchd::api
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
