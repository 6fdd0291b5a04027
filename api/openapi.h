// The OpenAPI description of every route (api/openapi.json, embedded at build time), served at
// GET /api/v1/openapi.json. tests/unit/daemon/openapi_test.cpp checks that the routes the
// router serves and the paths the document lists are the same set.
#pragma once

#include <string_view>

#include "api/router.h"

namespace batchd::api {

// The document, as JSON text.
std::string_view OpenApiDocument();

void RegisterOpenApiRoute(Router& router);

}  // namespace batchd::api
