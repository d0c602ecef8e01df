// actors/federation/key_handlers.cpp -- this server's identity to other
// servers: its signing keys (GET /_matrix/key/v2/server, the `keys`
// resource, which every `federation` listener serves too, as in Synapse)
// and its name and version (GET /_matrix/federation/v1/version). Spec:
// server-server API, "Retrieving server keys" and "Server implementation".
#include "actors/federation/routes.hpp"

#include "config/homeserver_config.hpp"
#include "matrix/server_keys.hpp"

#ifndef AXON_VERSION
#define AXON_VERSION "unknown"
#endif

namespace axon::federation {

namespace {

using http::request;
using http::response;

/// The current key, the old ones from `old_signing_keys`, valid for
/// `key_refresh_interval` from now (others cache it that long).
response server_keys(request& req) {
  auto& cfg = *req.ctx->cfg;
  std::vector<matrix::old_verify_key> old;
  for (auto& k : cfg.old_signing_keys) old.push_back({k.key_id, k.public_key, k.expired_ts});
  auto now = req.ctx->env->now_ms();
  return {200, matrix::own_server_keys(cfg.server_name, *req.ctx->key, old, now + cfg.key_refresh_interval_ms)};
}

response version(request&) {
  return {200, {{"server", {{"name", "Axon"}, {"version", AXON_VERSION}}}}};
}

} // namespace

void add_key_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/key/v2", "/server", false, "keys", server_keys});
  // Deprecated (spec r0.1.x): the key id is ignored and every key returned,
  // as Synapse does.
  out.push_back({"GET", "/_matrix/key/v2", "/server/{keyId}", false, "keys", server_keys});
  out.push_back({"GET", "/_matrix/federation/v1", "/version", false, "federation", version});
}

} // namespace axon::federation
