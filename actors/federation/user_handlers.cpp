// actors/federation/user_handlers.cpp -- other servers asking about this
// server's users' devices and E2EE keys (server-server API "End-to-End
// Encryption" and "Device Management"): POST /user/keys/query, POST
// /user/keys/claim, GET /user/devices/{userId}. Signed requests only;
// users of other servers in a query are ignored.
#include "actors/federation/routes.hpp"

#include "actors/client/cross_signing.hpp"
#include "actors/client/keys.hpp"
#include "actors/federation/rate_limit.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/cross_signing_store.hpp"
#include "transport/transport.hpp"

namespace axon::federation {

namespace {

using http::request;
using http::response;
using nlohmann::json;

/// {"device_keys": {user: [device ids]}}: the keys of this server's users,
/// with their master and self-signing keys (owners' signatures only).
response query_keys(request& req) {
  auto& body = req.json_body();
  auto wanted = body.find("device_keys");
  if (wanted == body.end() || !wanted->is_object()) http::fail(errc::bad_json, "device_keys must be an object");
  json keys = json::object();
  std::vector<std::string> users;
  for (auto& [user, ids] : client::device_keys_query(*wanted)) {
    if (!client::is_local_user(req, user)) continue;
    users.push_back(user);
    keys[user] = client::local_device_keys(req, user, ids);
  }
  json answer = {{"device_keys", keys}};
  client::add_cross_signing_to_query(req, users, answer["device_keys"], answer, "");
  return {200, answer};
}

/// {"one_time_keys": {user: {device: algorithm}}}: one key claimed per
/// device of this server's users (the device_lists writer's claim).
response claim_keys(request& req) {
  auto& body = req.json_body();
  auto wanted = body.find("one_time_keys");
  if (wanted == body.end() || !wanted->is_object()) http::fail(errc::bad_json, "one_time_keys must be an object");
  json local = json::object();
  auto claims = client::one_time_keys_claim(*wanted);
  for (auto& [user, devices] : claims.items())
    if (client::is_local_user(req, user) && !devices.empty()) local[user] = devices;
  json claimed = json::object();
  if (!local.empty()) claimed = json::parse(req.ctx->transport->claim_keys({local.dump()}).one_time_keys);
  return {200, {{"one_time_keys", claimed}}};
}

/// A user's devices with their keys and names, and the user's cross-signing
/// keys; an unknown user has none.
response user_devices(request& req) {
  auto& user = req.params[0];
  if (!matrix::parse_user_id(user)) http::fail(errc::invalid_param, "Invalid user id");
  if (!client::is_local_user(req, user)) http::fail(errc::invalid_param, "User is not hosted on this homeserver");
  auto keys = client::local_device_keys(req, user, {});
  json devices = json::array();
  for (auto& d : req.ctx->accounts->devices(user)) {
    json entry = {{"device_id", d.device_id}};
    if (d.display_name) entry["device_display_name"] = *d.display_name;
    if (keys.contains(d.device_id)) {
      auto k = keys[d.device_id];
      k.erase("unsigned");
      entry["keys"] = std::move(k);
    }
    devices.push_back(std::move(entry));
  }
  json answer = {{"user_id", user},
                 {"stream_id", req.ctx->transport->position(stream_id::device_lists)},
                 {"devices", std::move(devices)}};
  json cross = json::object(), ignored = json::object();
  client::add_cross_signing_to_query(req, {user}, ignored, cross, "");
  if (cross["master_keys"].contains(user)) answer["master_key"] = cross["master_keys"][user];
  if (cross["self_signing_keys"].contains(user)) answer["self_signing_key"] = cross["self_signing_keys"][user];
  return {200, answer};
}

} // namespace

void add_user_routes(std::vector<http::route>& out) {
  out.push_back({"POST", "/_matrix/federation/v1", "/user/keys/query", true, "federation", rate_limited(query_keys)});
  out.push_back({"POST", "/_matrix/federation/v1", "/user/keys/claim", true, "federation", rate_limited(claim_keys)});
  out.push_back({"GET", "/_matrix/federation/v1", "/user/devices/{userId}", true, "federation", rate_limited(user_devices)});
}

} // namespace axon::federation
