// actors/federation/openid_handlers.cpp -- OpenID (client-server API
// "OpenID", server-server API "OpenID"): a user asks for a token
// (POST /_matrix/client/v3/user/{userId}/openid/request_token) and gives it
// to a third party (an integration manager, a widget), which asks this
// server whose it is (GET /_matrix/federation/v1/openid/userinfo). The
// userinfo endpoint is the `openid` listener resource, which every
// `federation` listener serves too (as in Synapse); it takes no signature.
#include "actors/federation/routes.hpp"

#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "storage/stores/openid_store.hpp"

namespace axon::federation {

namespace {

using http::request;
using http::response;

/// Synapse's: a token is valid for an hour.
constexpr int64_t token_lifetime_ms = 3600 * 1000;

response request_token(request& req) {
  auto& me = req.auth().user_id;
  if (req.params[0] != me) http::fail(errc::forbidden, "Cannot request tokens for other users.");
  req.json_body(); // a body, if any, must be JSON
  auto token = matrix::random_string(32, *req.ctx->env);
  auto now = req.ctx->env->now_ms();
  storage::openid_store(*req.ctx->pool).add(token, me, now + token_lifetime_ms, now);
  return {200,
          {{"access_token", token},
           {"token_type", "Bearer"},
           {"matrix_server_name", req.ctx->cfg->server_name},
           {"expires_in", token_lifetime_ms / 1000}}};
}

response userinfo(request& req) {
  auto token = req.query_param("access_token");
  if (!token) http::fail(errc::missing_token, "Access Token required");
  auto user = storage::openid_store(*req.ctx->pool).user_for(*token, req.ctx->env->now_ms());
  if (!user) http::fail(errc::unknown_token, "Access Token unknown or expired");
  return {200, {{"sub", *user}}};
}

} // namespace

void add_openid_routes(std::vector<http::route>& out) {
  out.push_back({"POST", "/_matrix/client/{v}", "/user/{userId}/openid/request_token", true, "client", request_token});
  out.push_back({"GET", "/_matrix/federation/v1", "/openid/userinfo", false, "openid", userinfo});
}

} // namespace axon::federation
