// actors/federation/authenticate.cpp -- the X-Matrix check on every
// federation request that requires auth (server-server API, "Request
// Authentication"; Synapse's federation/transport/server/_base.py
// Authenticator), before its handler runs.
#include "actors/federation/federation_client.hpp"
#include "actors/federation/keyring.hpp"
#include "actors/federation/routes.hpp"

#include "config/homeserver_config.hpp"
#include "matrix/x_matrix.hpp"
#include "storage/stores/federation_store.hpp"
#include "transport/transport.hpp"


namespace axon::federation {

void authenticate_server(http::request& req) {
  auto& cfg = *req.ctx->cfg;
  if (!req.ctx->keyring) http::fail(errc::unrecognized, "Federation is not served here");
  if (req.authorization.empty())
    http::fail(errc::unauthorized, "Missing Authorization headers");
  auto auth = matrix::parse_x_matrix(req.authorization);
  if (!auth) http::fail(errc::unauthorized, "Malformed Authorization header");
  if (!auth->destination.empty() && auth->destination != cfg.server_name)
    http::fail(errc::unauthorized, "Destination mismatch in auth header");
  if (auth->origin == cfg.server_name)
    http::fail(errc::unauthorized, "Requests from this server's own name are not accepted");
  // Before any key is fetched for it.
  if (!may_federate(cfg, auth->origin)) http::fail(errc::forbidden, "Federation denied with " + auth->origin + ".");
  // The body is part of what is signed: JSON it must be (M_NOT_JSON).
  nlohmann::json content = nullptr;
  if (!req.body.empty()) content = req.json_body();
  std::string why;
  auto pub = req.ctx->keyring->verify_key(auth->origin, auth->key_id, req.ctx->env->now_ms(), &why);
  if (!pub)
    http::fail(errc::unauthorized, "Failed to find any key to satisfy the request from " + auth->origin + ": " + why);
  if (!matrix::verify_request(*auth, *pub, req.method, req.uri, cfg.server_name, content))
    http::fail(errc::unauthorized, "Invalid signature for server " + auth->origin + " with key " + auth->key_id);
  req.origin = auth->origin;
  // It is up: when we are backing off from it, whatever waits for it goes
  // now (Synapse's _reset_retry_timings and notify_remote_server_up). One
  // primary-key read per request: a cached answer could miss the moment a
  // backoff began, and a server back after one may send us nothing else.
  // After the answer: the request doesn't wait for it.
  if (req.ctx->federation)
    req.after.push_back([ctx = req.ctx, origin = auth->origin] {
      auto d = storage::federation_store(*ctx->pool).destination(origin);
      if (d && d->retry_interval > 0) ctx->transport->wake_federation({{origin}, true, {}});
    });
}

} // namespace axon::federation
