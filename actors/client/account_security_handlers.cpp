// actors/client/account_security_handlers.cpp -- changing the password and
// deactivating the account, both behind user-interactive auth with the
// current password. Spec: client-server API "Account management".
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "matrix/crypto.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/pushers_store.hpp"
#include "storage/stores/rooms_store.hpp"

namespace axon::client {

using http::fail;

namespace {

response change_password(request& req) {
  auto& body = req.json_body();
  auto new_password = require_string(body, "new_password");
  if (new_password.empty() || new_password.size() > 512)
    fail(errc::invalid_param, "new_password must be 1 to 512 characters");
  auto logout_devices = optional_bool(body, "logout_devices").value_or(true);
  if (auto challenge = password_uia(req)) return *challenge;
  auto& me = req.auth().user_id;
  auto hash = matrix::hash_password(new_password);
  if (hash.empty()) fail(errc::unknown, "Could not hash the password");
  req.ctx->accounts->set_password_hash(me, hash);
  if (logout_devices) {
    // Every other device is logged out; the one asking stays.
    std::vector<std::string> others;
    for (auto& d : req.ctx->accounts->devices(me))
      if (d.device_id != req.auth().device_id) others.push_back(d.device_id);
    delete_devices(req, others);
  }
  return {200, json::object()};
}

response deactivate(request& req) {
  auto& body = req.json_body();
  if (auto e = body.find("erase"); e != body.end() && !e->is_boolean())
    fail(errc::bad_json, "erase must be a boolean");
  if (auto challenge = password_uia(req)) return *challenge;
  auto me = req.auth().user_id;
  // Leave every room (and decline invites) while the account can still act.
  for (auto& m : req.ctx->rooms->memberships(me)) {
    if (m.membership != "join" && m.membership != "invite" && m.membership != "knock") continue;
    msg::event_draft d;
    d.type = "m.room.member";
    d.is_state = true;
    d.state_key = me;
    d.sender = me;
    d.content = json{{"membership", "leave"}}.dump();
    try {
      send_event(req, m.room_id, std::move(d));
    } catch (const matrix_error&) {
      // A room that refuses the leave keeps the membership; the account is
      // deactivated regardless.
    }
  }
  req.ctx->pushers->remove_all(me);
  std::vector<std::string> devices;
  for (auto& d : req.ctx->accounts->devices(me)) devices.push_back(d.device_id);
  delete_devices(req, devices);
  req.ctx->accounts->deactivate(me);
  return {200, {{"id_server_unbind_result", "no-support"}}};
}

} // namespace

void add_account_security_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"POST", c, "/account/password", true, "client", change_password});
  out.push_back({"POST", c, "/account/deactivate", true, "client", deactivate});
}

} // namespace axon::client
