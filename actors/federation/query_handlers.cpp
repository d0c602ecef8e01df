// actors/federation/query_handlers.cpp -- other servers' questions about
// this server's users (server-server API, "Query"): GET
// /_matrix/federation/v1/query/profile. Signed requests only.
#include "actors/federation/routes.hpp"

#include "actors/federation/rate_limit.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/accounts_store.hpp"

namespace axon::federation {

namespace {

using http::request;
using http::response;

/// ?user_id=@local:us[&field=displayname|avatar_url]: the fields set (an
/// unset one is left out); 404 M_NOT_FOUND for an unknown user.
response query_profile(request& req) {
  auto user_id = req.query_param("user_id");
  if (!user_id) http::fail(errc::missing_param, "Missing required parameter user_id");
  auto parsed = matrix::parse_user_id(*user_id);
  if (!parsed) http::fail(errc::invalid_param, "Invalid user id");
  if (matrix::server_of(*user_id) != req.ctx->cfg->server_name)
    http::fail(errc::invalid_param, "User is not hosted on this homeserver");
  auto field = req.query_param("field");
  if (field && *field != "displayname" && *field != "avatar_url")
    http::fail(errc::invalid_param, "field must be displayname or avatar_url");
  if (!req.ctx->accounts->user_exists(*user_id)) http::fail(errc::not_found, "Profile was not found");
  auto p = req.ctx->accounts->get_profile(*user_id);
  nlohmann::json out = nlohmann::json::object();
  if (p.displayname && (!field || *field == "displayname")) out["displayname"] = *p.displayname;
  if (p.avatar_url && (!field || *field == "avatar_url")) out["avatar_url"] = *p.avatar_url;
  return {200, out};
}

} // namespace

void add_query_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/federation/v1", "/query/profile", true, "federation", rate_limited(query_profile)});
}

} // namespace axon::federation
