// actors/federation/hierarchy.cpp -- see hierarchy.hpp; and the federation
// route GET /_matrix/federation/v1/hierarchy/{roomId}: the room and its
// children this server is in, one level (the asking server walks further).
#include "actors/federation/hierarchy.hpp"

#include "actors/client/directory.hpp"
#include "actors/federation/federation_client.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "actors/federation/rate_limit.hpp"
#include "actors/federation/routes.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/rooms_store.hpp"

#include <algorithm>
#include <tuple>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Synapse's MAX_ROOMS_PER_SPACE and MAX_SERVERS_PER_SPACE.
constexpr size_t max_children = 50;
constexpr size_t max_servers = 3;

std::string text_of(const json& obj, const char* key) {
  auto i = obj.find(key);
  return i != obj.end() && i->is_string() ? i->get<std::string>() : "";
}

/// A `via` that is a non-empty list of strings.
bool valid_via(const json& content) {
  auto v = content.find("via");
  if (v == content.end() || !v->is_array() || v->empty()) return false;
  return std::all_of(v->begin(), v->end(), [](const json& s) { return s.is_string(); });
}

/// The spec's order of children: a valid `order` first (by it), then by
/// origin_server_ts, then room id.
std::tuple<bool, std::string, int64_t, std::string> order_key(const json& ev) {
  auto content = ev.value("content", json::object());
  auto order = content.find("order");
  bool valid = order != content.end() && order->is_string() && order->get<std::string>().size() <= 50;
  if (valid)
    for (unsigned char c : order->get<std::string>())
      if (c < 0x20 || c > 0x7E) valid = false;
  return {!valid, valid ? order->get<std::string>() : "", ev.value("origin_server_ts", int64_t{0}),
          ev.value("state_key", "")};
}

/// The rooms a restricted room's join rules allow (m.room_membership), or
/// none for other rules.
std::vector<std::string> allowed_rooms(const json& join_rules) {
  std::vector<std::string> out;
  auto content = join_rules.value("content", json::object());
  auto rule = text_of(content, "join_rule");
  if (rule != "restricted" && rule != "knock_restricted") return out;
  auto allow = content.find("allow");
  if (allow == content.end() || !allow->is_array()) return out;
  for (auto& a : *allow)
    if (a.is_object() && text_of(a, "type") == "m.room_membership" && !text_of(a, "room_id").empty())
      out.push_back(text_of(a, "room_id"));
  return out;
}

bool user_joined(http::server_context& ctx, const std::string& user_id, const std::string& room_id) {
  auto m = ctx.rooms->membership(user_id, room_id);
  return m && m->membership == "join";
}

} // namespace

bool local_room_accessible(http::server_context& ctx, const std::string& room_id, const std::string& user_id,
                           const std::string& origin) {
  auto state = ctx.rooms->current_state(room_id);
  if (state.empty()) {
    // A room known only by an invite to it.
    if (user_id.empty()) return false;
    auto m = ctx.rooms->membership(user_id, room_id);
    return m && m->membership == "invite";
  }
  json join_rules;
  for (auto& ev : state) {
    auto type = ev.value("type", "");
    auto content = ev.value("content", json::object());
    if (!content.is_object()) continue;
    if (type == "m.room.join_rules") {
      join_rules = ev;
      auto rule = text_of(content, "join_rule");
      if (rule == "public" || rule == "knock" || rule == "knock_restricted") return true;
    } else if (type == "m.room.history_visibility") {
      if (text_of(content, "history_visibility") == "world_readable") return true;
    } else if (type == "m.room.member") {
      auto who = ev.value("state_key", "");
      auto m = text_of(content, "membership");
      if (m != "join" && m != "invite") continue;
      if (!user_id.empty() && who == user_id) return true;
      if (user_id.empty() && matrix::server_of(who) == origin) return true;
    }
  }
  if (join_rules.is_null()) return false;
  for (auto& allowed : allowed_rooms(join_rules)) {
    if (!user_id.empty() ? user_joined(ctx, user_id, allowed) : server_in_room(ctx, allowed, origin)) return true;
  }
  return false;
}

json local_room_entry(http::server_context& ctx, const std::string& room_id, bool for_federation, bool suggested_only,
                      bool with_children) {
  auto state = ctx.rooms->current_state(room_id);
  auto entry = client::room_directory_entry(room_id, state);
  std::vector<json> children;
  for (auto& ev : state) {
    auto type = ev.value("type", "");
    if (for_federation && type == "m.room.join_rules") {
      auto allowed = allowed_rooms(ev);
      if (!allowed.empty()) entry["allowed_room_ids"] = allowed;
    }
    if (type != "m.space.child") continue;
    auto content = ev.value("content", json::object());
    if (!content.is_object() || !valid_via(content)) continue; // no via: removed (or redacted)
    if (suggested_only && !(content.contains("suggested") && content["suggested"].is_boolean() &&
                            content["suggested"].get<bool>()))
      continue;
    children.push_back(ev);
  }
  std::sort(children.begin(), children.end(), [](const json& a, const json& b) { return order_key(a) < order_key(b); });
  json stripped = json::array();
  if (with_children && entry.value("room_type", "") == "m.space")
    for (auto& ev : children)
      stripped.push_back({{"type", ev["type"]},
                          {"state_key", ev.value("state_key", "")},
                          {"content", ev["content"]},
                          {"sender", ev.value("sender", "")},
                          {"origin_server_ts", ev.value("origin_server_ts", int64_t{0})}});
  entry["children_state"] = stripped;
  return entry;
}

std::optional<remote_hierarchy> fetch_hierarchy(http::server_context& ctx, const std::string& room_id,
                                                const std::vector<std::string>& via, bool suggested_only) {
  if (!ctx.federation) return std::nullopt;
  size_t tried = 0;
  for (auto& server : via) {
    if (server == ctx.cfg->server_name || !ctx.federation->allowed(server)) continue;
    if (++tried > max_servers) break;
    auto r = ctx.federation->request(server, "GET", "/_matrix/federation/v1/hierarchy/" + escape(room_id) +
                                                      "?suggested_only=" + (suggested_only ? "true" : "false"));
    if (!r.ok() || !r.body.is_object()) continue;
    auto room = r.body.find("room");
    if (room == r.body.end() || !room->is_object() || text_of(*room, "room_id") != room_id) continue;
    remote_hierarchy out;
    out.room = *room;
    // Only well-formed m.space.child entries go on.
    json kept = json::array();
    auto cs = room->find("children_state");
    if (cs != room->end() && cs->is_array())
      for (auto& ev : *cs)
        if (ev.is_object() && text_of(ev, "type") == "m.space.child" && !text_of(ev, "state_key").empty() &&
            ev.contains("content") && ev["content"].is_object() && valid_via(ev["content"]) && kept.size() < max_children)
          kept.push_back({{"type", "m.space.child"},
                          {"state_key", ev["state_key"]},
                          {"content", ev["content"]},
                          {"sender", text_of(ev, "sender")},
                          {"origin_server_ts", ev.value("origin_server_ts", json(0)).is_number_integer()
                                                 ? ev["origin_server_ts"].get<int64_t>()
                                                 : int64_t{0}}});
    out.room["children_state"] = kept;
    auto children = r.body.find("children");
    if (children != r.body.end() && children->is_array())
      for (auto& c : *children)
        if (c.is_object() && !text_of(c, "room_id").empty()) out.children.emplace(text_of(c, "room_id"), c);
    auto inacc = r.body.find("inaccessible_children");
    if (inacc != r.body.end() && inacc->is_array())
      for (auto& id : *inacc)
        if (id.is_string()) out.inaccessible.insert(id.get<std::string>());
    return out;
  }
  return std::nullopt;
}

bool remote_room_accessible(http::server_context& ctx, const std::string& user_id, const std::string& room_id,
                            const json& summary) {
  auto rule = text_of(summary, "join_rule");
  if (rule == "public" || rule == "knock" || rule == "knock_restricted") return true;
  auto wr = summary.find("world_readable");
  if (wr != summary.end() && wr->is_boolean() && wr->get<bool>()) return true;
  auto allowed = summary.find("allowed_room_ids");
  if (allowed != summary.end() && allowed->is_array())
    for (auto& a : *allowed)
      if (a.is_string() && user_joined(ctx, user_id, a.get<std::string>())) return true;
  return local_room_accessible(ctx, room_id, user_id, "");
}

namespace {

http::response get_hierarchy(http::request& req) {
  auto& room_id = req.params[0];
  auto& ctx = *req.ctx;
  bool suggested = req.query_param("suggested_only").value_or("false") == "true";
  if (!room_version_of(ctx, room_id) || !server_in_room(ctx, room_id, ctx.cfg->server_name) ||
      !local_room_accessible(ctx, room_id, "", req.origin))
    http::fail(errc::not_found, "Unknown room: " + room_id);
  if (!acl_allows(ctx, room_id, req.origin)) http::fail(errc::forbidden, "Server is banned from room");
  auto root = local_room_entry(ctx, room_id, true, suggested, true);
  json children = json::array(), inaccessible = json::array();
  for (auto& child : root["children_state"]) {
    auto id = child.value("state_key", "");
    if (!server_in_room(ctx, id, ctx.cfg->server_name)) continue; // unknown here: the asker tries its via
    if (local_room_accessible(ctx, id, "", req.origin)) {
      auto entry = local_room_entry(ctx, id, true, suggested, false);
      entry.erase("children_state");
      children.push_back(std::move(entry));
    } else {
      inaccessible.push_back(id);
    }
  }
  return {200, {{"room", root}, {"children", children}, {"inaccessible_children", inaccessible}}};
}

} // namespace

void add_hierarchy_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/federation/v1", "/hierarchy/{roomId}", true, "federation", rate_limited(get_hierarchy)});
}

} // namespace axon::federation
