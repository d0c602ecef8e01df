// actors/federation/room_edus.cpp -- see room_edus.hpp.
#include "actors/federation/room_edus.hpp"

#include "actors/federation/pdu_intake.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "messages/presence.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <set>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Synapse's FEDERATION_TIMEOUT for a remote user's typing notice.
constexpr int64_t remote_typing_timeout_ms = 30000;

/// Whether `user_id` belongs to `origin` and is joined to `room_id`, which
/// this server is in and whose ACL lets `origin` in.
bool may_speak(http::request& req, const std::string& origin, const std::string& room_id, const std::string& user_id) {
  if (!matrix::parse_user_id(user_id) || matrix::server_of(user_id) != origin) return false;
  if (!matrix::valid_room_id(room_id) || !room_version_of(*req.ctx, room_id)) return false;
  if (!acl_allows(*req.ctx, room_id, origin)) return false;
  auto m = req.ctx->rooms->current_state_event(room_id, "m.room.member", user_id);
  return m && m->value("content", json::object()).value("membership", "") == "join";
}

} // namespace

void send_room_edu(http::server_context& ctx, const std::string& room_id, const std::string& edu_type,
                   const json& content) {
  if (!ctx.federation) return;
  std::set<std::string> servers;
  for (auto& user : ctx.rooms->joined_users(room_id)) {
    auto s = matrix::server_of(user);
    if (!s.empty() && s != ctx.cfg->server_name) servers.insert(s);
  }
  if (servers.empty()) return;
  msg::wake_federation w;
  w.destinations.assign(servers.begin(), servers.end());
  w.edus.push_back(json{{"edu_type", edu_type}, {"content", content}}.dump());
  ctx.transport->wake_federation(w);
}

void receive_typing(http::request& req, const std::string& origin, const json& content) {
  auto room = content.value("room_id", json());
  auto user = content.value("user_id", json());
  auto typing = content.value("typing", json());
  if (!room.is_string() || !user.is_string() || !typing.is_boolean()) return;
  if (!may_speak(req, origin, room.get<std::string>(), user.get<std::string>())) return;
  req.ctx->transport->set_typing({room.get<std::string>(), user.get<std::string>(), typing.get<bool>(),
                                  remote_typing_timeout_ms});
}

void receive_presence(http::request& req, const std::string& origin, const json& content) {
  if (!req.ctx->cfg->presence_enabled) return;
  auto push = content.value("push", json());
  if (!push.is_array()) return;
  for (auto& p : push) {
    if (!p.is_object()) continue;
    auto user = p.value("user_id", json());
    auto state = p.value("presence", json());
    if (!user.is_string() || !state.is_string()) continue;
    auto user_id = user.get<std::string>();
    if (!matrix::parse_user_id(user_id) || matrix::server_of(user_id) != origin) continue;
    auto s = state.get<std::string>();
    if (s != "online" && s != "unavailable" && s != "offline") continue;
    // Only users joined to a room this server has.
    if (req.ctx->e2e_keys->joined_rooms(user_id).empty()) continue;
    msg::set_presence sp;
    sp.user_id = user_id;
    sp.presence = s;
    auto msg_text = p.value("status_msg", json());
    if (msg_text.is_string() && msg_text.get<std::string>().size() <= 1024) sp.status_msg = msg_text.get<std::string>();
    sp.remote = true;
    auto ago = p.value("last_active_ago", json());
    if (ago.is_number_integer()) sp.last_active_ago = std::max<int64_t>(0, ago.get<int64_t>());
    sp.currently_active = p.value("currently_active", json()).is_boolean() && p["currently_active"].get<bool>();
    try {
      req.ctx->transport->set_presence(sp);
    } catch (const matrix_error&) {
    }
  }
}

void receive_receipts(http::request& req, const std::string& origin, const json& content) {
  if (!content.is_object()) return;
  for (auto& [room_id, by_type] : content.items()) {
    if (!by_type.is_object()) continue;
    // Public read receipts only: a private one never leaves its server.
    auto read = by_type.value("m.read", json());
    if (!read.is_object()) continue;
    for (auto& [user_id, receipt] : read.items()) {
      if (!receipt.is_object() || !may_speak(req, origin, room_id, user_id)) continue;
      auto ids = receipt.value("event_ids", json());
      auto data = receipt.value("data", json::object());
      if (!ids.is_array() || ids.empty() || !ids[0].is_string() || !data.is_object()) continue;
      // For an event of this room that this server has.
      auto ev = req.ctx->events->get_event(ids[0].get<std::string>());
      if (!ev || ev->json.value("room_id", "") != room_id) continue;
      std::string thread;
      if (data.contains("thread_id") && data["thread_id"].is_string()) thread = data["thread_id"].get<std::string>();
      json kept = json::object();
      if (data.contains("ts") && data["ts"].is_number_integer()) kept["ts"] = data["ts"];
      try {
        req.ctx->transport->put_receipt(
          {room_id, "m.read", user_id, ids[0].get<std::string>(), thread, kept.dump()});
      } catch (const matrix_error&) {
        // One bad receipt never fails the transaction.
      }
    }
  }
}

} // namespace axon::federation
