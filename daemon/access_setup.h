// Who may use the API, from the serve configuration (docs/api.md, "Authentication"): the token
// file loaded at start and again on SIGHUP, and the CORS origins. Neither function ever logs or
// returns a token or a line of the token file, only line numbers.
#pragma once

#include <memory>

#include "api/request_gate.h"
#include "core/status.h"
#include "daemon/serve_config.h"

namespace batchd::daemon {

// The gate for `config`: with its token file's tokens (none without --token-file) and CORS
// origins. kIoError if the token file cannot be read, kInvalidArgument naming the file and the
// line for a bad one (the daemon then refuses to start).
Result<std::unique_ptr<api::RequestGate>> MakeRequestGate(const ServeConfig& config);

// Reads the token file again into `gate` (on SIGHUP). A file that cannot be read or parsed
// changes nothing: the tokens in use stay, and the log says why.
void ReloadTokenFile(const ServeConfig& config, api::RequestGate& gate);

}  // namespace batchd::daemon
