// actors/client/device_handlers.cpp -- device management. Spec: client-server
// API "Device Management"; deleting devices needs user-interactive auth with
// the account's password (m.login.password), as in Synapse.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/client_ips_store.hpp"
#include "storage/stores/pushers_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <map>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

using seen_map = std::map<std::string, storage::client_ip_row>;

/// Each device's latest use (user_ips, with the rows not yet written).
seen_map last_seen(request& req, const std::string& user_id) {
  if (!req.ctx->client_ips) return {};
  return req.ctx->client_ips->last_seen_by_device(user_id);
}

/// The spec's Device: every field present, null when unknown (as Synapse
/// answers). The time of the device's latest request, else of its login.
json device_json(const storage::device_row& d, const seen_map& seen) {
  json out = {{"device_id", d.device_id},
              {"display_name", d.display_name ? json(*d.display_name) : json(nullptr)},
              {"last_seen_ip", nullptr},
              {"last_seen_ts", d.last_seen ? json(*d.last_seen) : json(nullptr)}};
  if (auto i = seen.find(d.device_id); i != seen.end()) {
    out["last_seen_ip"] = i->second.ip;
    out["last_seen_ts"] = i->second.last_seen;
  }
  return out;
}

// ---- handlers --------------------------------------------------------------------

response list_devices(request& req) {
  auto& me = req.auth().user_id;
  auto seen = last_seen(req, me);
  json devices = json::array();
  for (auto& d : req.ctx->accounts->devices(me)) devices.push_back(device_json(d, seen));
  return {200, {{"devices", devices}}};
}

response get_device(request& req) {
  auto d = req.ctx->accounts->device(req.auth().user_id, req.params[0]);
  if (!d) fail(errc::not_found, "Device not found");
  return {200, device_json(*d, last_seen(req, req.auth().user_id))};
}

response put_device(request& req) {
  auto& body = req.json_body();
  auto name = optional_string(body, "display_name");
  if (name && name->size() > 100) fail(errc::invalid_param, "Device display name is too long");
  auto& me = req.auth().user_id;
  if (!req.ctx->accounts->device(me, req.params[0])) fail(errc::not_found, "Device not found");
  if (body.contains("display_name")) {
    req.ctx->accounts->set_device_display_name(me, req.params[0], name);
    // The name is part of what /keys/query shows others.
    devices_changed(req, {me, {req.params[0]}, false});
  }
  return {200, json::object()};
}

response delete_device(request& req) {
  if (!req.ctx->accounts->device(req.auth().user_id, req.params[0]))
    fail(errc::not_found, "Device not found");
  if (auto challenge = password_uia(req)) return *challenge;
  delete_devices(req, {req.params[0]});
  return {200, json::object()};
}

response delete_devices_bulk(request& req) {
  auto& body = req.json_body();
  auto i = body.find("devices");
  if (i == body.end()) fail(errc::missing_param, "Missing devices");
  if (!i->is_array()) fail(errc::bad_json, "devices must be an array of strings");
  std::vector<std::string> ids;
  for (auto& d : *i) {
    if (!d.is_string()) fail(errc::bad_json, "devices must be an array of strings");
    ids.push_back(d.get<std::string>());
  }
  if (auto challenge = password_uia(req)) return *challenge;
  delete_devices(req, ids);
  return {200, json::object()};
}

// GET /_synapse/admin/v1/whois/{userId}, also GET /_matrix/client/v3/admin/whois
// (spec "Server Administration"): a user's connections from user_ips, for
// the user themselves or a server admin, in Synapse's shape (every session
// under the device "").
response whois(request& req) {
  auto& target = req.params[0];
  auto parsed = matrix::parse_user_id(target);
  if (!parsed) fail(errc::invalid_param, "Invalid user id " + target);
  auto& me = req.auth().user_id;
  if (target != me) require_server_admin(req);
  if (parsed->server != server_name(req))
    fail(errc::invalid_param, "Can only whois a local user");
  json connections = json::array();
  if (req.ctx->client_ips)
    for (auto& r : req.ctx->client_ips->for_user(target))
      connections.push_back(
        {{"ip", r.ip}, {"last_seen", r.last_seen}, {"user_agent", r.user_agent}});
  return {200,
          {{"user_id", target},
           {"devices", {{"", {{"sessions", json::array({{{"connections", connections}}})}}}}}}};
}

} // namespace

/// Deletes the devices (tokens, keys, the pushers their tokens registered)
/// and announces the change.
void delete_devices(request& req, const std::vector<std::string>& device_ids) {
  auto& me = req.auth().user_id;
  std::vector<std::string> existing;
  for (auto& d : device_ids)
    if (req.ctx->accounts->device(me, d)) existing.push_back(d);
  if (existing.empty()) return;
  auto hashes = req.ctx->accounts->delete_devices(me, existing);
  req.ctx->pushers->remove_for_devices(me, existing);
  for (auto& h : hashes) req.ctx->tokens->erase(h);
  req.ctx->transport->invalidate_cache("access_tokens", hashes);
  devices_changed(req, {me, existing, true});
}

void add_device_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/devices", true, "client", list_devices, "device_lists"});
  out.push_back({"GET", c, "/devices/{deviceId}", true, "client", get_device, "device_lists"});
  out.push_back({"PUT", c, "/devices/{deviceId}", true, "client", put_device, "device_lists"});
  out.push_back({"DELETE", c, "/devices/{deviceId}", true, "client", delete_device, "device_lists"});
  out.push_back({"POST", c, "/delete_devices", true, "client", delete_devices_bulk, "device_lists"});
  out.push_back({"GET", "/_synapse/admin/v1", "/whois/{userId}", true, "client", whois});
  out.push_back({"GET", c, "/admin/whois/{userId}", true, "client", whois});
}

} // namespace axon::client
