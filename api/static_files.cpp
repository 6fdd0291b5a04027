#include "api/static_files.h"

#include <algorithm>
#include <array>
#include <utility>

#include "api/error_response.h"

namespace batchd::api {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kContentTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
}};

const EmbeddedFile* Find(std::string_view path) {
  const auto& files = EmbeddedWebFiles();
  auto it = std::lower_bound(files.begin(), files.end(), path,
                             [](const EmbeddedFile& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

void Serve(std::string_view path, Responder& respond) {
  const EmbeddedFile* file = Find(path);
  if (file == nullptr) {
    respond(ErrorResponse(404, "not_found", "no dashboard file " + std::string(path)));
    return;
  }
  HttpResponse r;
  r.body = std::string(file->content);
  r.content_type = std::string(ContentTypeFor(path));
  // The files change only with the binary; revalidating each time keeps an upgrade visible.
  r.headers.emplace_back("Cache-Control", "no-cache");
  respond(std::move(r));
}

}  // namespace

std::string_view ContentTypeFor(std::string_view path) {
  for (const auto& [extension, type] : kContentTypes) {
    if (path.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

void RegisterStaticRoutes(Router& router) {
  router.Add("GET", "/", [](HttpRequest&, Responder respond) { Serve("index.html", respond); });
  // One segment ({file}) or two ({dir}/{file}): the dashboard's files are at most one folder
  // deep, and the router matches whole segments.
  router.Add("GET", "/ui/{file}",
             [](HttpRequest& r, Responder respond) { Serve(r.path_params.at("file"), respond); });
  router.Add("GET", "/ui/{dir}/{file}", [](HttpRequest& r, Responder respond) {
    Serve(r.path_params.at("dir") + "/" + r.path_params.at("file"), respond);
  });
}

}  // namespace batchd::api
