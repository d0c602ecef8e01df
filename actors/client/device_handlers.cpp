// actors/client/device_handlers.cpp -- device management. Spec: client-server
// API "Device Management"; deleting devices needs user-interactive auth with
// the account's password (m.login.password), as in Synapse.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/http/services.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/pushers_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

json device_json(const storage::device_row& d) {
  json out = {{"device_id", d.device_id}};
  if (d.display_name) out["display_name"] = *d.display_name;
  if (d.last_seen) out["last_seen_ts"] = *d.last_seen;
  return out;
}

// ---- handlers --------------------------------------------------------------------

response list_devices(request& req) {
  json devices = json::array();
  for (auto& d : req.ctx->accounts->devices(req.auth().user_id)) devices.push_back(device_json(d));
  return {200, {{"devices", devices}}};
}

response get_device(request& req) {
  auto d = req.ctx->accounts->device(req.auth().user_id, req.params[0]);
  if (!d) fail(errc::not_found, "Device not found");
  return {200, device_json(*d)};
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
    req.ctx->transport->device_list_changed({me, {req.params[0]}, false});
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
  req.ctx->transport->device_list_changed({me, existing, true});
}

void add_device_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/devices", true, "client", list_devices, "device_lists"});
  out.push_back({"GET", c, "/devices/{deviceId}", true, "client", get_device, "device_lists"});
  out.push_back({"PUT", c, "/devices/{deviceId}", true, "client", put_device, "device_lists"});
  out.push_back({"DELETE", c, "/devices/{deviceId}", true, "client", delete_device, "device_lists"});
  out.push_back({"POST", c, "/delete_devices", true, "client", delete_devices_bulk, "device_lists"});
}

} // namespace axon::client
