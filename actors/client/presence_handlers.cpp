// actors/client/presence_handlers.cpp -- presence: GET/PUT
// /presence/{userId}/status, `set_presence` on /sync and the /sync
// `presence` section. Spec: client-server API "Presence"; behaviour as
// Synapse (rest/client/presence.py, handlers/presence.py).
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/presence_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <set>
#include <unordered_set>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

bool enabled(const request& req) { return req.ctx->cfg->presence_enabled; }

std::set<std::string> joined_rooms_of(request& req, const std::string& user_id) {
  std::set<std::string> out;
  if (matrix::server_of(user_id) != req.ctx->cfg->server_name) {
    // Another server's user: the rooms' current state.
    for (auto& r : req.ctx->e2e_keys->joined_rooms(user_id)) out.insert(r);
    return out;
  }
  for (auto& m : req.ctx->rooms->memberships(user_id))
    if (m.membership == "join") out.insert(m.room_id);
  return out;
}

/// Users joined to any of `rooms`.
std::unordered_set<std::string> members_of(request& req, const std::vector<std::string>& rooms) {
  std::unordered_set<std::string> out;
  for (auto& r : rooms)
    for (auto& ev : req.ctx->rooms->current_members(r, "join")) out.insert(ev.value("state_key", ""));
  return out;
}

/// The presence content clients see (synapse format_user_presence_state):
/// last_active_ago only once the user was active, status_msg only when set,
/// currently_active only while online.
json presence_content(const storage::presence_row& r, int64_t now) {
  json c = {{"presence", r.state}};
  if (r.last_active_ts > 0) c["last_active_ago"] = std::max<int64_t>(0, now - r.last_active_ts);
  if (!r.status_msg.empty()) c["status_msg"] = r.status_msg;
  if (r.state == "online") c["currently_active"] = r.currently_active;
  return c;
}

// ---- handlers ----------------------------------------------------------------------

response get_status(request& req) {
  auto& target = req.params[0];
  if (!matrix::parse_user_id(target)) fail(errc::invalid_param, target + " is not a valid user ID");
  if (!enabled(req)) return {200, {{"presence", "offline"}}};
  auto& me = req.auth().user_id;
  if (target != me) {
    // Visible to users sharing a room (synapse is_visible).
    auto mine = joined_rooms_of(req, me);
    bool shared = false;
    for (auto& r : joined_rooms_of(req, target)) shared = shared || mine.count(r);
    if (!shared) fail(errc::forbidden, "You are not allowed to see their presence.");
  }
  storage::presence_row never; // no row yet: offline, never active
  never.user_id = target;
  auto row = req.ctx->presence->get(target).value_or(never);
  return {200, presence_content(row, now_ms(req))};
}

response put_status(request& req) {
  auto& target = req.params[0];
  if (target != req.auth().user_id) fail(errc::forbidden, "Can only set your own presence state");
  auto& body = req.json_body();
  auto presence = require_string(body, "presence");
  if (presence != "online" && presence != "unavailable" && presence != "offline")
    fail(errc::invalid_param, "Invalid presence state: presence must be online, unavailable or offline");
  auto status_msg = optional_string(body, "status_msg");
  if (!enabled(req)) return {200, json::object()}; // tracked nothing (synapse track_presence)
  req.ctx->transport->set_presence({target, presence, status_msg.value_or("")});
  return {200, json::object()};
}

} // namespace

// ---- /sync ---------------------------------------------------------------------------

void presence_on_sync(request& req, int64_t timeout_ms) {
  if (!enabled(req)) return;
  auto set = req.query_param("set_presence").value_or("online");
  // offline: the sync doesn't touch presence (synapse affect_presence).
  if (set != "online" && set != "unavailable") return;
  auto& me = req.auth().user_id;
  // Most syncs change nothing clients see (already in that state): tell the
  // writer without waiting, so a sync costs one read here and no round trip.
  // A sync that changes the state waits until the change is visible, so this
  // very response (and the client's next request) shows it.
  auto stored = req.ctx->presence->get(me);
  bool changes = !stored || stored->state != set;
  req.ctx->transport->user_syncing({me, set, timeout_ms}, changes);
}

bool add_presence(const sync_context& c, json& out) {
  auto& req = c.req;
  if (!enabled(req)) return false;
  if (c.since && !c.moved(stream_id::presence) && c.full_rooms.empty()) return false;
  auto* store = req.ctx->presence;
  auto from = c.since_of(stream_id::presence), to = c.pos_of(stream_id::presence);
  std::vector<storage::presence_row> rows;
  // Who the client may see: itself and everyone sharing a joined room,
  // computed only once there is something to filter.
  std::optional<std::unordered_set<std::string>> visible;
  auto sees = [&](const std::string& user) {
    if (user == c.user_id()) return true;
    if (!visible) visible = members_of(req, c.joined_rooms);
    return visible->count(user) > 0;
  };
  if (!c.since) {
    // Initial sync: the current presence of everyone visible, offline
    // users left out (synapse, presence_include_offline_users_on_sync off).
    for (auto& r : store->changed(0, to))
      if (r.state != "offline" && sees(r.user_id)) rows.push_back(std::move(r));
  } else {
    std::unordered_set<std::string> seen;
    for (auto& r : store->changed(from, to))
      if (sees(r.user_id)) {
        seen.insert(r.user_id);
        rows.push_back(std::move(r));
      }
    // Members of rooms the client gets in full (new joins) come with their
    // current presence even when it didn't change since the token.
    if (!c.full_rooms.empty()) {
      auto fresh = members_of(req, c.full_rooms);
      for (auto& r : store->changed(0, from))
        if (r.state != "offline" && fresh.count(r.user_id) && !seen.count(r.user_id))
          rows.push_back(std::move(r));
    }
  }
  auto now = now_ms(req);
  json events = json::array();
  for (auto& r : rows) {
    json ev = {{"type", "m.presence"}, {"sender", r.user_id}, {"content", presence_content(r, now)}};
    if (c.filter.presence.match(ev)) events.push_back(std::move(ev));
  }
  bool news = !events.empty();
  out["presence"] = {{"events", std::move(events)}};
  return news;
}

void add_presence_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/presence/{userId}/status", true, "client", get_status, "presence"});
  out.push_back({"PUT", c, "/presence/{userId}/status", true, "client", put_status, "presence"});
}

} // namespace axon::client
