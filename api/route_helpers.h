// Small pieces every route handler uses: JSON responses and answering from store callbacks.
#pragma once

#include <nlohmann/json.hpp>

#include "api/error_response.h"
#include "api/http_types.h"
#include "storage/store.h"

namespace batchd::api {

inline HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// A response whose JSON body is already written (batch_json_text.h).
inline HttpResponse TextJsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// A store callback that answers `respond` with render(value), or the error.
template <typename T, typename Render>
storage::Callback<T> Answer(Responder respond, Render render) {
  return [respond = std::move(respond), render](Result<T> r) {
    respond(r.ok() ? render(*r) : ErrorResponse(r.status()));
  };
}

}  // namespace batchd::api
