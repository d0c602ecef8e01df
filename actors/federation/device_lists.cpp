// actors/federation/device_lists.cpp -- see device_lists.hpp.
#include "actors/federation/device_lists.hpp"

#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/cross_signing_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "transport/transport.hpp"

#include <set>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Other servers with a user sharing a room with `user_id`.
std::vector<std::string> servers_sharing(http::server_context& ctx, const std::string& user_id) {
  std::set<std::string> out;
  for (auto& u : ctx.e2e_keys->users_sharing_room(user_id)) {
    auto s = matrix::server_of(u);
    if (!s.empty() && s != ctx.cfg->server_name) out.insert(s);
  }
  return {out.begin(), out.end()};
}

void send_edus(http::server_context& ctx, std::vector<std::string> destinations, std::vector<std::string> edus) {
  if (destinations.empty() || edus.empty()) return;
  msg::wake_federation w;
  w.destinations = std::move(destinations);
  w.edus = std::move(edus);
  ctx.transport->wake_federation(w);
}

} // namespace

void send_device_list_update(http::server_context& ctx, const std::string& user_id,
                             const std::vector<std::string>& device_ids, bool deleted, int64_t pos) {
  if (!ctx.federation) return;
  try {
    auto destinations = servers_sharing(ctx, user_id);
    if (destinations.empty()) return;
    auto prev = ctx.e2e_keys->previous_change(user_id, pos);
    auto keys = deleted ? std::map<std::string, std::string>{} : ctx.e2e_keys->device_keys(user_id, device_ids);
    std::map<std::string, std::string> names;
    if (!deleted)
      for (auto& d : ctx.accounts->devices(user_id))
        if (d.display_name) names[d.device_id] = *d.display_name;
    std::vector<std::string> edus;
    for (auto& device : device_ids) {
      json content = {{"user_id", user_id}, {"device_id", device}, {"stream_id", pos},
                      {"prev_id", prev ? json::array({prev}) : json::array()}, {"deleted", deleted}};
      if (auto k = keys.find(device); k != keys.end()) {
        auto parsed = json::parse(k->second, nullptr, false);
        if (parsed.is_object()) content["keys"] = parsed;
      }
      if (auto n = names.find(device); n != names.end()) content["device_display_name"] = n->second;
      edus.push_back(json{{"edu_type", "m.device_list_update"}, {"content", content}}.dump());
    }
    send_edus(ctx, std::move(destinations), std::move(edus));
  } catch (const std::exception&) {
    // Best effort: the other servers hear of the user's devices when they ask.
  }
}

void send_signing_key_update(http::server_context& ctx, const std::string& user_id) {
  if (!ctx.federation) return;
  try {
    auto destinations = servers_sharing(ctx, user_id);
    if (destinations.empty()) return;
    json content = {{"user_id", user_id}};
    for (auto& [type, text] : ctx.cross_signing->keys(user_id)) {
      if (type != "master" && type != "self_signing") continue; // user_signing never leaves its server
      auto k = json::parse(text, nullptr, false);
      if (k.is_object()) content[type + "_key"] = k;
    }
    send_edus(ctx, std::move(destinations), {json{{"edu_type", "m.signing_key_update"}, {"content", content}}.dump()});
  } catch (const std::exception&) {
  }
}

void receive_device_list_update(http::request& req, const std::string& origin, const json& content) {
  auto user = content.value("user_id", json());
  if (!user.is_string()) return;
  auto user_id = user.get<std::string>();
  // A server speaks only for its own users.
  if (!matrix::parse_user_id(user_id) || matrix::server_of(user_id) != origin) return;
  std::vector<std::string> devices;
  auto device = content.value("device_id", json());
  if (device.is_string() && !device.get<std::string>().empty()) devices.push_back(device.get<std::string>());
  // Only users sharing a room with ours matter; others are not recorded.
  if (req.ctx->e2e_keys->joined_rooms(user_id).empty()) return;
  try {
    req.ctx->transport->device_list_changed({user_id, devices, false});
  } catch (const matrix_error&) {
    // One bad update never fails the transaction.
  }
}

} // namespace axon::federation
