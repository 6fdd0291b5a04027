#include "api/openapi.h"

namespace batchd::api {

void RegisterOpenApiRoute(Router& router) {
  router.Add("GET", "/api/v1/openapi.json", [](HttpRequest&, Responder respond) {
    HttpResponse r;
    r.body = std::string(OpenApiDocument());
    respond(std::move(r));
  });
}

}  // namespace batchd::api
