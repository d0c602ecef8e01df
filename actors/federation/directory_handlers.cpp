// actors/federation/directory_handlers.cpp -- this server's directories to
// other servers: the public room list (GET/POST
// /_matrix/federation/v1/publicRooms, only with
// allow_public_rooms_over_federation, as Synapse) and room aliases (GET
// /_matrix/federation/v1/query/directory). Signed requests only.
#include "actors/federation/routes.hpp"

#include "actors/client/common.hpp"
#include "actors/client/directory.hpp"
#include "actors/federation/rate_limit.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/rooms_store.hpp"

#include <set>

namespace axon::federation {

namespace {

using http::request;
using http::response;
using nlohmann::json;

void check_allowed(request& req) {
  if (!req.ctx->cfg->allow_public_rooms_over_federation)
    http::fail(errc::forbidden, "You are not allowed to view the public rooms list of " + req.ctx->cfg->server_name);
}

/// ?limit=&since= (include_all_networks and third_party_instance_id name
/// networks this server doesn't bridge: nothing more to list).
response get_public_rooms(request& req) {
  check_allowed(req);
  auto limit = client::int_param(req, "limit");
  return {200, client::public_rooms_page(req, limit, req.query_param("since"), "")};
}

response post_public_rooms(request& req) {
  check_allowed(req);
  auto q = client::public_rooms_body(req.json_body());
  return {200, client::public_rooms_page(req, q.limit, q.since, q.term)};
}

/// ?room_alias=#a:us: the room and the servers of its joined members (this
/// one first), 404 M_NOT_FOUND when the alias is unknown.
response query_directory(request& req) {
  auto alias = req.query_param("room_alias");
  if (!alias) http::fail(errc::missing_param, "Missing required parameter room_alias");
  if (!matrix::valid_room_alias(*alias)) http::fail(errc::invalid_param, "Invalid room alias");
  if (matrix::server_of(*alias) != req.ctx->cfg->server_name)
    http::fail(errc::invalid_param, "Room alias is not on this server");
  auto room = req.ctx->rooms->resolve_alias(*alias);
  if (!room) http::fail(errc::not_found, "Room alias " + *alias + " not found");
  json servers = json::array({req.ctx->cfg->server_name});
  std::set<std::string> seen{req.ctx->cfg->server_name};
  for (auto& member : req.ctx->rooms->current_members(*room, "join")) {
    auto server = matrix::server_of(member.value("state_key", ""));
    if (!server.empty() && seen.insert(server).second) servers.push_back(server);
  }
  return {200, {{"room_id", *room}, {"servers", servers}}};
}

} // namespace

void add_directory_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/federation/v1", "/publicRooms", true, "federation", rate_limited(get_public_rooms)});
  out.push_back({"POST", "/_matrix/federation/v1", "/publicRooms", true, "federation", rate_limited(post_public_rooms)});
  out.push_back({"GET", "/_matrix/federation/v1", "/query/directory", true, "federation", rate_limited(query_directory)});
}

} // namespace axon::federation
