// actors/client/well_known_handlers.cpp -- server discovery documents on
// client listeners, as Synapse serves them: /.well-known/matrix/server
// (delegation for other servers, with serve_server_wellknown: port 443, or
// the server name's own port) and /.well-known/matrix/client (clients'
// homeserver: public_baseurl, when it is set, plus
// extra_well_known_client_content). Spec: server-server API "Resolving
// server names", client-server API "Server Discovery".
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/server_resolution.hpp"

namespace axon::client {

namespace {

response server_well_known(request& req) {
  auto& cfg = *req.ctx->cfg;
  if (!cfg.serve_server_wellknown) http::fail(errc::not_found, ".well-known not available");
  auto name = matrix::parse_server_address(cfg.server_name);
  if (!name) http::fail(errc::not_found, ".well-known not available");
  return {200, {{"m.server", name->host + ":" + std::to_string(name->port.value_or(443))}}};
}

response client_well_known(request& req) {
  auto& cfg = *req.ctx->cfg;
  if (!cfg.serve_client_wellknown) http::fail(errc::not_found, ".well-known not available");
  json out = json::parse(cfg.extra_well_known_client_content, nullptr, false);
  if (!out.is_object()) out = json::object();
  out["m.homeserver"] = {{"base_url", cfg.public_baseurl}};
  return {200, out};
}

} // namespace

void add_well_known_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/.well-known/matrix", "/server", false, "client", server_well_known});
  out.push_back({"GET", "/.well-known/matrix", "/client", false, "client", client_well_known});
}

} // namespace axon::client
