// The dashboard (web/), embedded into the binary at build time (cmake/EmbedFiles.cmake) and
// served at / (index.html) and /ui/{path} (everything else), so `batchd serve` needs no files
// next to it.
#pragma once

#include <string_view>
#include <vector>

#include "api/router.h"

namespace batchd::api {

struct EmbeddedFile {
  std::string_view path;  // relative to web/, e.g. "views/list.js"
  std::string_view content;
};

// Every file of web/, sorted by path.
const std::vector<EmbeddedFile>& EmbeddedWebFiles();

// The Content-Type for a file name, by extension (a table, not a switch); octet-stream for
// unknown ones.
std::string_view ContentTypeFor(std::string_view path);

// GET / and GET /ui/{path...}: the embedded files, 404 not_found for others.
void RegisterStaticRoutes(Router& router);

}  // namespace batchd::api
