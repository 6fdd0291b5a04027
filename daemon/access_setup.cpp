#include "daemon/access_setup.h"

#include <spdlog/spdlog.h>

#include "api/token_set.h"

namespace batchd::daemon {

Result<std::unique_ptr<api::RequestGate>> MakeRequestGate(const ServeConfig& config) {
  std::shared_ptr<const api::TokenSet> tokens;
  if (!config.token_file.empty()) {
    ASSIGN_OR_RETURN(api::TokenSet loaded, api::LoadTokenFile(config.token_file));
    spdlog::info("authentication: {} admin and {} read token(s) from {}", loaded.admin_count(),
                 loaded.read_count(), config.token_file.string());
    tokens = std::make_shared<const api::TokenSet>(std::move(loaded));
  } else {
    spdlog::info("no --token-file: anyone who can connect to {} may use the API", config.host);
  }
  for (const std::string& origin : config.cors_origins) {
    spdlog::info("CORS: pages from {} may call the API", origin);
  }
  return std::make_unique<api::RequestGate>(config.cors_origins, std::move(tokens),
                                            config.allowed_hosts);
}

void ReloadTokenFile(const ServeConfig& config, api::RequestGate& gate) {
  if (config.token_file.empty()) {
    spdlog::info("SIGHUP: there is no --token-file to reload");
    return;
  }
  Result<api::TokenSet> loaded = api::LoadTokenFile(config.token_file);
  if (!loaded.ok()) {
    spdlog::error("SIGHUP: keeping the tokens in use; {}", loaded.status().message());
    return;
  }
  spdlog::info("SIGHUP: reloaded {} admin and {} read token(s) from {}", loaded->admin_count(),
               loaded->read_count(), config.token_file.string());
  gate.ReplaceTokens(std::make_shared<const api::TokenSet>(std::move(*loaded)));
}

}  // namespace batchd::daemon
