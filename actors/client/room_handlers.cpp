// actors/client/room_handlers.cpp -- creating rooms, membership, aliases,
// state and sending. Spec: client-server API "Rooms", "Room membership",
// "Room aliases", "Sending events", "Redactions".
#include "actors/client/common.hpp"
#include "actors/client/history.hpp"
#include "actors/client/routes.hpp"
#include "actors/federation/federation_client.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "actors/federation/remote_membership.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/auth_rules.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "storage/stores/accounts_store.hpp"

#include <algorithm>

namespace axon::client {

using http::fail;

namespace {

// ---- helpers -------------------------------------------------------------------

msg::event_draft draft(const std::string& sender, std::string type, const json& content,
                       std::optional<std::string> state_key = std::nullopt) {
  msg::event_draft d;
  d.type = std::move(type);
  d.sender = sender;
  d.content = content.dump();
  if (state_key) {
    d.is_state = true;
    d.state_key = *state_key;
  }
  return d;
}

/// M_NOT_FOUND when the room does not exist here.
void require_room(request& req, const std::string& room_id) {
  require_room_id(room_id);
  if (!req.ctx->rooms->get_room(room_id)) fail(errc::not_found, "Unknown room " + room_id);
}

std::string check_user_id(const std::string& id) {
  if (!matrix::parse_user_id(id)) fail(errc::invalid_param, "Invalid user id: " + id);
  return id;
}

/// Sends a membership change (join/invite/leave/ban) for `target`.
std::string send_membership(request& req, const std::string& room_id, const std::string& target,
                            const std::string& membership, const std::optional<std::string>& reason) {
  json content = (membership == "join" || membership == "invite")
                   ? member_content(req, target, membership)
                   : json{{"membership", membership}};
  if (reason) content["reason"] = *reason;
  return send_event(req, room_id, draft(req.auth().user_id, "m.room.member", content, target));
}

/// The position up to which the user may see the room's state: now when
/// joined or when the room is world_readable, the leave when they left,
/// nothing otherwise (M_FORBIDDEN). Synapse's get_state_events.
int64_t visible_until(request& req, const std::string& room_id) {
  auto who = reader_of(req, room_id);
  require_reader(req, room_id, who);
  return who.left_at;
}

// ---- createRoom ------------------------------------------------------------------

json default_power_levels(const std::string& creator, const std::string& preset,
                          const std::vector<std::string>& invitees) {
  json pl = {{"users", {{creator, 100}}},
             {"users_default", 0},
             {"events",
              {{"m.room.name", 50},
               {"m.room.power_levels", 100},
               {"m.room.history_visibility", 100},
               {"m.room.canonical_alias", 50},
               {"m.room.avatar", 50},
               {"m.room.tombstone", 100},
               {"m.room.server_acl", 100},
               {"m.room.encryption", 100}}},
             {"events_default", 0},
             {"state_default", 50},
             {"ban", 50},
             {"kick", 50},
             {"redact", 50},
             {"invite", preset == "public_chat" ? 50 : 0}};
  if (preset == "trusted_private_chat")
    for (auto& i : invitees) pl["users"][i] = 100;
  return pl;
}

response create_room(request& req) {
  auto& body = req.json_body();
  auto& me = req.auth().user_id;
  auto visibility = optional_string(body, "visibility").value_or("private");
  if (visibility != "public" && visibility != "private")
    fail(errc::invalid_param, "visibility must be public or private");
  auto preset = optional_string(body, "preset")
                  .value_or(visibility == "public" ? "public_chat" : "private_chat");
  if (preset != "public_chat" && preset != "private_chat" && preset != "trusted_private_chat")
    fail(errc::invalid_param, "Unknown preset " + preset);
  auto version = optional_string(body, "room_version").value_or(req.ctx->cfg->default_room_version);
  auto rv = matrix::find_room_version(version);
  if (!rv) fail(errc::unsupported_room_version, "Your homeserver does not support this room version");
  std::vector<std::string> invitees;
  if (auto i = body.find("invite"); i != body.end() && !i->is_null()) {
    if (!i->is_array()) fail(errc::bad_json, "invite must be an array");
    for (auto& u : *i) {
      if (!u.is_string()) fail(errc::bad_json, "invite must be an array of user ids");
      invitees.push_back(check_user_id(u.get<std::string>()));
    }
  }
  if (auto i = body.find("invite_3pid"); i != body.end() && i->is_array() && !i->empty())
    fail(errc::bad_request, "Third-party invites are not supported");
  auto is_direct = optional_bool(body, "is_direct").value_or(false);
  auto creation = optional_object(body, "creation_content").value_or(json::object());
  auto pl_override = optional_object(body, "power_level_content_override");
  auto name = optional_string(body, "name");
  auto topic = optional_string(body, "topic");
  std::vector<json> initial_state;
  if (auto i = body.find("initial_state"); i != body.end() && !i->is_null()) {
    if (!i->is_array()) fail(errc::bad_json, "initial_state must be an array");
    for (auto& ev : *i) {
      if (!ev.is_object() || !ev.contains("type") || !ev["type"].is_string() ||
          !ev.contains("content") || !ev["content"].is_object() ||
          (ev.contains("state_key") && !ev["state_key"].is_string()))
        fail(errc::bad_json, "initial_state entries need a type, a content object and a string state_key");
      initial_state.push_back(ev);
    }
  }
  std::optional<std::string> alias;
  if (auto a = optional_string(body, "room_alias_name")) {
    alias = "#" + *a + ":" + server_name(req);
    if (a->empty() || a->find(':') != std::string::npos || !matrix::valid_room_alias(*alias))
      fail(errc::invalid_param, "Invalid characters in room alias");
    if (req.ctx->rooms->resolve_alias(*alias)) fail(errc::room_in_use, "Room alias already taken");
  }

  auto room_id = matrix::make_room_id(server_name(req), *req.ctx->env);
  msg::send_events batch;
  batch.room_id = room_id;
  batch.new_room = true;
  batch.room_version = version;
  if (!rv->v11_rules) creation["creator"] = me;
  else creation.erase("creator");
  creation["room_version"] = version;
  batch.drafts.push_back(draft(me, "m.room.create", creation, ""));
  batch.drafts.push_back(draft(me, "m.room.member", member_content(req, me, "join"), me));
  auto pl = default_power_levels(me, preset, invitees);
  if (pl_override) pl.update(*pl_override);
  batch.drafts.push_back(draft(me, "m.room.power_levels", pl, ""));
  if (alias) batch.drafts.push_back(draft(me, "m.room.canonical_alias", {{"alias", *alias}}, ""));
  bool is_public = preset == "public_chat";
  batch.drafts.push_back(
    draft(me, "m.room.join_rules", {{"join_rule", is_public ? "public" : "invite"}}, ""));
  batch.drafts.push_back(
    draft(me, "m.room.history_visibility", {{"history_visibility", "shared"}}, ""));
  if (!is_public)
    batch.drafts.push_back(draft(me, "m.room.guest_access", {{"guest_access", "can_join"}}, ""));
  for (auto& ev : initial_state)
    batch.drafts.push_back(draft(me, ev["type"], ev["content"], ev.value("state_key", "")));
  if (name) batch.drafts.push_back(draft(me, "m.room.name", {{"name", *name}}, ""));
  if (topic) batch.drafts.push_back(draft(me, "m.room.topic", {{"topic", *topic}}, ""));
  for (auto& i : invitees) {
    auto c = member_content(req, i, "invite");
    if (is_direct) c["is_direct"] = true;
    batch.drafts.push_back(draft(me, "m.room.member", c, i));
  }
  for (auto& d : batch.drafts) check_event_size(d.content, d.type, d.state_key);
  // Claim the alias first so two rooms can't take it.
  if (alias && !req.ctx->rooms->create_alias(*alias, room_id, me))
    fail(errc::room_in_use, "Room alias already taken");
  try {
    send_events(req, std::move(batch));
  } catch (...) {
    if (alias) req.ctx->rooms->delete_alias(*alias);
    throw;
  }
  if (visibility == "public") req.ctx->rooms->set_public(room_id, true);
  json out = {{"room_id", room_id}};
  if (alias) out["room_alias"] = *alias;
  return {200, out};
}

// ---- membership --------------------------------------------------------------------

std::string resolve_room(request& req, const std::string& id_or_alias) {
  if (!id_or_alias.empty() && id_or_alias[0] == '#') {
    if (!matrix::valid_room_alias(id_or_alias)) fail(errc::invalid_param, "Invalid room alias");
    auto r = req.ctx->rooms->resolve_alias(id_or_alias);
    if (!r) fail(errc::not_found, "Room alias " + id_or_alias + " not found");
    return *r;
  }
  if (!matrix::valid_room_id(id_or_alias))
    fail(errc::invalid_param, id_or_alias + " was not legal room ID or room alias");
  return id_or_alias;
}

response remote_alias(request& req, const std::string& alias);
std::vector<std::string> servers_for(request& req, const std::string& room_id, const std::string& user_id);

/// Whether a user of this server is joined: the room can be joined here
/// (else through another server, over federation).
bool host_in_room(request& req, const std::string& room_id) {
  return req.ctx->rooms->get_room(room_id) && federation::server_in_room(*req.ctx, room_id, server_name(req));
}

/// The room a /join or /knock names ({roomIdOrAlias}), and the servers
/// that may know it: an alias of another server names its servers (asked
/// of it); ?server_name= and ?via= (MSC4156's spelling) name more.
std::pair<std::string, std::vector<std::string>> room_and_servers(request& req) {
  std::vector<std::string> servers;
  std::string room_id;
  auto& target = req.params[0];
  if (!target.empty() && target[0] == '#' && matrix::valid_room_alias(target) &&
      matrix::server_of(target) != server_name(req) && req.ctx->federation) {
    auto found = remote_alias(req, target).body;
    room_id = found.value("room_id", "");
    for (auto& s : found.value("servers", json::array()))
      if (s.is_string()) servers.push_back(s.get<std::string>());
  } else {
    room_id = resolve_room(req, target);
  }
  for (auto* key : {"server_name", "via"})
    for (auto [i, end] = req.query.equal_range(key); i != end; ++i)
      if (matrix::valid_server_name(i->second)) servers.push_back(i->second);
  return {room_id, servers};
}

response join(request& req) {
  // Remote: also the inviter's server and the room id's (servers_for).
  auto [room_id, servers] = room_and_servers(req);
  auto& rc = req.ctx->cfg->rc.joins_local;
  auto& me = req.auth().user_id;
  bool remote = req.ctx->federation && !host_in_room(req, room_id) && membership_of(req, me, room_id) != "join";
  if (remote) {
    for (auto& s : servers_for(req, room_id, me)) servers.push_back(s);
  } else {
    require_room(req, room_id);
  }
  // The client's content is the member event's (reason and any custom
  // keys, a per-room displayname or avatar_url), as Synapse keeps it; the
  // membership is ours, the profile fills what it leaves out, and what only
  // servers set is dropped. Joining again with the same content is no new
  // event (the writer deduplicates state).
  json content = req.json_body();
  optional_string(content, "reason"); // M_BAD_JSON unless a string
  content.erase("third_party_signed");
  content.erase("join_authorised_via_users_server");
  auto profile = member_content(req, me, "join");
  for (auto& [k, v] : profile.items())
    if (!content.contains(k)) content[k] = v;
  content["membership"] = "join";
  if (remote) {
    auto& rr = req.ctx->cfg->rc.joins_remote;
    rate_limit(req, "rc_joins.remote", me, rr.per_second, rr.burst_count);
    federation::join_remote_room(req, room_id, servers, me, content);
    return {200, {{"room_id", room_id}}};
  }
  if (membership_of(req, me, room_id) != "join")
    rate_limit(req, "rc_joins.local", me, rc.per_second, rc.burst_count);
  send_event(req, room_id, draft(me, "m.room.member", content, me));
  return {200, {{"room_id", room_id}}};
}

/// POST /knock/{roomIdOrAlias} (spec "Knocking on rooms", room v7+): the
/// knock as a member event here, or through the room's servers when this
/// server is not in it.
response knock(request& req) {
  auto [room_id, servers] = room_and_servers(req);
  auto& me = req.auth().user_id;
  json content = {{"membership", "knock"}};
  if (auto reason = optional_string(req.json_body(), "reason")) content["reason"] = *reason;
  auto current = membership_of(req, me, room_id);
  if (current == "join" || current == "ban" || current == "invite")
    fail(errc::forbidden, "You cannot knock on a room you are " + std::string(current == "join" ? "in" : current == "ban" ? "banned from" : "invited to"));
  if (req.ctx->federation && !host_in_room(req, room_id)) {
    auto& rr = req.ctx->cfg->rc.joins_remote;
    rate_limit(req, "rc_joins.remote", me, rr.per_second, rr.burst_count);
    for (auto& s : servers_for(req, room_id, me)) servers.push_back(s);
    federation::knock_remote_room(req, room_id, servers, me, content);
    return {200, {{"room_id", room_id}}};
  }
  require_room(req, room_id);
  auto& rl = req.ctx->cfg->rc.joins_local;
  rate_limit(req, "rc_joins.local", me, rl.per_second, rl.burst_count);
  send_event(req, room_id, draft(me, "m.room.member", content, me));
  return {200, {{"room_id", room_id}}};
}

response invite(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  auto& body = req.json_body();
  auto target = check_user_id(require_string(body, "user_id"));
  auto& rc = req.ctx->cfg->rc;
  rate_limit(req, "rc_invites.per_room", room_id, rc.invites_per_room.per_second,
             rc.invites_per_room.burst_count);
  rate_limit(req, "rc_invites.per_user", target, rc.invites_per_user.per_second,
             rc.invites_per_user.burst_count);
  if (matrix::server_of(target) == server_name(req) && !req.ctx->accounts->user_exists(target))
    fail(errc::not_found, "Unknown user " + target);
  if (matrix::server_of(target) != server_name(req) && req.ctx->federation) {
    // The invitee's server signs it first (federation /invite).
    auto current = membership_of(req, target, room_id);
    if (current == "join" || current == "invite") fail(errc::forbidden, target + " is already in the room");
    json content = {{"membership", "invite"}};
    if (auto reason = optional_string(body, "reason")) content["reason"] = *reason;
    federation::invite_remote_user(req, room_id, target, content);
    return {200, json::object()};
  }
  send_membership(req, room_id, target, "invite", optional_string(body, "reason"));
  return {200, json::object()};
}

/// The servers that may know a room this server is not in: the sender's of
/// the user's membership (an invite's inviter), and the room id's.
std::vector<std::string> servers_for(request& req, const std::string& room_id, const std::string& user_id) {
  std::vector<std::string> out;
  if (auto m = req.ctx->rooms->membership(user_id, room_id))
    if (auto ev = req.ctx->events->dag_events({m->event_id}); !ev.empty())
      out.push_back(matrix::server_of(ev.begin()->second.json.value("sender", "")));
  auto creator = matrix::server_of(room_id);
  if (!creator.empty()) out.push_back(creator);
  return out;
}

response leave(request& req) {
  auto& room_id = req.params[0];
  auto& me = req.auth().user_id;
  auto current = membership_of(req, me, room_id);
  if (current == "leave") return {200, json::object()};
  if (current.empty()) fail(errc::forbidden, "User " + me + " not in room " + room_id);
  if (req.ctx->federation && !host_in_room(req, room_id)) {
    // An invite or knock of a room elsewhere: left through its servers.
    json content = json::object();
    if (auto reason = optional_string(req.json_body(), "reason")) content["reason"] = *reason;
    federation::leave_remote_room(req, room_id, servers_for(req, room_id, me), me, content);
    return {200, json::object()};
  }
  require_room(req, room_id);
  send_membership(req, room_id, me, "leave", optional_string(req.json_body(), "reason"));
  return {200, json::object()};
}

response change_member(request& req, const char* membership) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  auto& body = req.json_body();
  auto target = check_user_id(require_string(body, "user_id"));
  std::string m = membership;
  if (m == "unban" || m == "kick") {
    auto current = membership_of(req, target, room_id);
    if (m == "unban" && current != "ban") fail(errc::forbidden, target + " is not banned");
    if (m == "kick" && current != "join" && current != "invite" && current != "knock")
      fail(errc::forbidden, target + " is not in the room");
    m = "leave";
  }
  send_membership(req, room_id, target, m, optional_string(body, "reason"));
  return {200, json::object()};
}

response forget(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto m = req.ctx->rooms->membership(req.auth().user_id, room_id);
  if (!m) fail(errc::not_found, "Not a known room");
  if (m->membership == "join" || m->membership == "invite")
    fail(errc::bad_state, "User " + req.auth().user_id + " is in room " + room_id);
  req.ctx->rooms->forget(req.auth().user_id, room_id);
  return {200, json::object()};
}

response joined_rooms(request& req) {
  json rooms = json::array();
  for (auto& m : req.ctx->rooms->memberships(req.auth().user_id))
    if (m.membership == "join") rooms.push_back(m.room_id);
  return {200, {{"joined_rooms", rooms}}};
}

// ---- members and state ---------------------------------------------------------------

std::vector<json> state_visible(request& req, const std::string& room_id) {
  auto until = visible_until(req, room_id);
  if (until == INT64_MAX) return req.ctx->rooms->current_state(room_id);
  return req.ctx->events->state_at(room_id, until);
}

response members(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  int64_t until = INT64_MAX;
  if (auto at = req.query_param("at")) {
    // A sync / pagination token: the state at its position, when the user
    // could see the room then (Synapse's _user_can_see_state_at_event).
    auto t = matrix::parse_stream_token(*at);
    if (!t) fail(errc::invalid_param, "Invalid at token");
    until = room_position(req, token_positions(req, *t), room_id);
    auto who = reader_of(req, room_id);
    if (!(who.joined && who.joined_since <= until) &&
        !history_view(req, room_id, until, false).allows_state_at(until, who.joined))
      fail(errc::forbidden, "User " + req.auth().user_id + " not allowed to view events in room " +
                              room_id + " at token " + *at);
  } else {
    until = visible_until(req, room_id);
  }
  auto state = until == INT64_MAX ? req.ctx->rooms->current_members(room_id)
                                  : req.ctx->events->state_at(room_id, until);
  auto want = req.query_param("membership");
  auto not_want = req.query_param("not_membership");
  json chunk = json::array();
  auto now = now_ms(req);
  for (auto& ev : state) {
    if (ev.value("type", "") != "m.room.member") continue;
    auto m = ev["content"].value("membership", "");
    if (want && m != *want) continue;
    if (not_want && m == *not_want) continue;
    chunk.push_back(client_event(ev, &req.auth(), now));
  }
  return {200, {{"chunk", chunk}}};
}

response joined_members(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  require_joined(req, room_id);
  json joined = json::object();
  for (auto& ev : req.ctx->rooms->current_members(room_id, "join")) {
    // Both keys always present (null when unset), as Synapse sends them.
    json entry = {{"display_name", nullptr}, {"avatar_url", nullptr}};
    auto& c = ev["content"];
    if (c.contains("displayname") && c["displayname"].is_string()) entry["display_name"] = c["displayname"];
    if (c.contains("avatar_url") && c["avatar_url"].is_string()) entry["avatar_url"] = c["avatar_url"];
    joined[ev.value("state_key", "")] = entry;
  }
  return {200, {{"joined", joined}}};
}

response get_state(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  json out = json::array();
  auto now = now_ms(req);
  for (auto& ev : state_visible(req, room_id)) out.push_back(client_event(ev, &req.auth(), now));
  return {200, out};
}

response get_state_event(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  auto& type = req.params[1];
  auto key = req.params.size() > 2 ? req.params[2] : std::string();
  for (auto& ev : state_visible(req, room_id))
    if (ev.value("type", "") == type && ev.value("state_key", "") == key) {
      if (req.query_param("format").value_or("content") == "event")
        return {200, client_event(ev, &req.auth(), now_ms(req))};
      return {200, ev.value("content", json::object())};
    }
  fail(errc::not_found, "Event not found.");
}

/// Synapse's _validate_canonical_alias for each alias an
/// m.room.canonical_alias event adds (compared with the current one): a
/// valid alias that points to this room, else M_BAD_ALIAS.
void check_canonical_alias(request& req, const std::string& room_id, const json& content) {
  auto current = req.ctx->rooms->current_state_event(room_id, "m.room.canonical_alias", "");
  json old = current ? current->value("content", json::object()) : json::object();
  auto points_here = [&](const json& alias) {
    if (!alias.is_string() || !matrix::valid_room_alias(alias.get<std::string>()))
      fail(errc::bad_alias, "Invalid room alias " + alias.dump());
    auto target = req.ctx->rooms->resolve_alias(alias.get<std::string>());
    if (!target || *target != room_id)
      fail(errc::bad_alias, "Room alias " + alias.get<std::string>() + " does not point to the room");
  };
  if (auto a = content.find("alias"); a != content.end() && !a->is_null())
    if (!old.contains("alias") || old["alias"] != *a) points_here(*a);
  if (auto alt = content.find("alt_aliases"); alt != content.end()) {
    if (!alt->is_array()) fail(errc::invalid_param, "The alt_aliases property must be a list.");
    json before = old.contains("alt_aliases") && old["alt_aliases"].is_array() ? old["alt_aliases"]
                                                                              : json::array();
    for (auto& a : *alt)
      if (std::find(before.begin(), before.end(), a) == before.end()) points_here(a);
  }
}

response put_state_event(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  auto& type = req.params[1];
  auto key = req.params.size() > 2 ? req.params[2] : std::string();
  auto& content = req.json_body();
  if (type == "m.room.member") {
    // Memberships go through the same checks as the membership endpoints.
    auto m = content.find("membership");
    if (m == content.end() || !m->is_string()) fail(errc::bad_json, "membership must be a string");
    check_user_id(key);
  }
  if (type == "m.room.canonical_alias" && key.empty()) check_canonical_alias(req, room_id, content);
  auto id = send_event(req, room_id, draft(req.auth().user_id, type, content, key));
  return {200, {{"event_id", id}}};
}

// ---- sending -----------------------------------------------------------------------------

/// PUT .../send/{eventType}/{txnId}, idempotent per transaction id; also
/// the legacy POST .../send/{eventType} (Synapse's RoomSendEventRestServlet)
/// without one, where every request is a new event.
response send_message(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id); // the writer answers 404 for unknown rooms
  auto d = draft(req.auth().user_id, req.params[1], req.json_body());
  if (req.params.size() > 2) {
    d.txn_device = req.auth().device_id;
    d.txn_id = req.params[2];
  }
  return {200, {{"event_id", send_event(req, room_id, std::move(d))}}};
}

response redact(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id); // the writer answers 404 for unknown rooms
  auto& target = req.params[1];
  if (!matrix::valid_event_id(target)) fail(errc::invalid_param, "Invalid event id");
  auto& body = req.json_body();
  json content = json::object();
  if (auto reason = optional_string(body, "reason")) content["reason"] = *reason;
  auto d = draft(req.auth().user_id, "m.room.redaction", content);
  d.redacts = target;
  d.txn_device = req.auth().device_id;
  d.txn_id = req.params[2];
  return {200, {{"event_id", send_event(req, room_id, std::move(d))}}};
}

response get_event(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto ev = req.ctx->events->get_event(req.params[1]);
  if (!ev || ev->json.value("room_id", "") != room_id) fail(errc::not_found, "Event not found.");
  // History visibility at the event decides (Synapse's get_event: whoever
  // is not joined now reads as a peeker); an event the user may not see is
  // not found (spec: 404 "or you do not have permission to read it").
  if (!may_see_event(req, room_id, ev->json, ev->stream_ordering)) fail(errc::not_found, "Event not found.");
  return {200, client_event(ev->json, &req.auth(), now_ms(req))};
}

/// GET /rooms/{roomId}/timestamp_to_event (v1): the event closest to `ts`
/// in direction `dir` among those the user may see.
response timestamp_to_event(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto [ts, forward] = time_and_direction(req);
  require_room(req, room_id);
  for (auto& ev : req.ctx->events->events_near_time(room_id, ts, forward, 50))
    if (may_see_event(req, room_id, ev.json, ev.stream_ordering))
      return {200, {{"event_id", ev.json.value("event_id", "")}, {"origin_server_ts", ev.json.value("origin_server_ts", int64_t{0})}}};
  fail(errc::not_found, "Unable to find event from " + std::to_string(ts) + " in direction " + (forward ? "f" : "b"));
}

// ---- aliases -------------------------------------------------------------------------------

std::string check_alias(request& req, const std::string& alias) {
  if (!matrix::valid_room_alias(alias)) fail(errc::invalid_param, "Invalid room alias " + alias);
  return alias;
}

/// An alias of another server, asked of it (GET
/// /_matrix/federation/v1/query/directory): its room and servers as it
/// says, when well-formed; its error passed on, 502 when unreachable.
response remote_alias(request& req, const std::string& alias) {
  auto server = matrix::server_of(alias);
  req.ctx->federation->require_allowed(server);
  auto r = req.ctx->federation->request(server, "GET",
                                        "/_matrix/federation/v1/query/directory?room_alias=" + federation::escape(alias));
  if (errc_from(r.errcode(), r.status) == errc::not_found) fail(errc::not_found, "Room alias " + alias + " not found");
  auto& body = federation::body_or_fail(r, "Failed to resolve the alias");
  auto room_id = body.value("room_id", json());
  if (!room_id.is_string() || !matrix::valid_room_id(room_id.get<std::string>()))
    fail(errc::bad_gateway, "Failed to resolve the alias: no room id in the answer");
  json servers = json::array();
  if (body.contains("servers") && body["servers"].is_array())
    for (auto& s : body["servers"])
      if (s.is_string() && matrix::valid_server_name(s.get<std::string>())) servers.push_back(s);
  if (servers.empty()) servers.push_back(server);
  return {200, {{"room_id", room_id}, {"servers", servers}}};
}

response get_alias(request& req) {
  auto alias = check_alias(req, req.params[0]);
  if (matrix::server_of(alias) != server_name(req)) return remote_alias(req, alias);
  auto room = req.ctx->rooms->resolve_alias(alias);
  if (!room) fail(errc::not_found, "Room alias " + alias + " not found");
  return {200, {{"room_id", *room}, {"servers", json::array({server_name(req)})}}};
}

response put_alias(request& req) {
  auto alias = check_alias(req, req.params[0]);
  if (matrix::server_of(alias) != server_name(req))
    fail(errc::invalid_param, "Room alias must be on this server");
  auto room_id = require_string(req.json_body(), "room_id");
  require_room(req, room_id);
  if (!req.ctx->rooms->create_alias(alias, room_id, req.auth().user_id))
    fail(errc::conflict, "Room alias " + alias + " already exists");
  return {200, json::object()};
}

response delete_alias(request& req) {
  auto alias = check_alias(req, req.params[0]);
  auto creator = req.ctx->rooms->alias_creator(alias);
  auto room = req.ctx->rooms->resolve_alias(alias);
  if (!creator || !room) fail(errc::not_found, "Room alias " + alias + " not found");
  auto& me = req.auth().user_id;
  if (*creator != me) {
    // Room moderators may remove aliases too (Synapse: can change canonical alias).
    matrix::auth_state st;
    for (auto& ev : req.ctx->rooms->current_state(*room))
      st[{ev.value("type", ""), ev.value("state_key", "")}] = ev;
    if (matrix::user_power_level(st, me) <
        matrix::required_event_level(st, "m.room.canonical_alias", true))
      fail(errc::forbidden, "You don't have permission to delete the alias.");
  }
  req.ctx->rooms->delete_alias(alias);
  // Synapse's _update_canonical_alias: the alias leaves the room's
  // m.room.canonical_alias too (sent by the user who deleted it, when they
  // may; otherwise the event stays and only the mapping is gone).
  if (auto ev = req.ctx->rooms->current_state_event(*room, "m.room.canonical_alias", "")) {
    json content = ev->value("content", json::object());
    bool changed = false;
    if (content.value("alias", json()) == json(alias)) {
      content.erase("alias");
      changed = true;
    }
    if (auto alt = content.find("alt_aliases"); alt != content.end() && alt->is_array()) {
      auto n = alt->size();
      alt->erase(std::remove(alt->begin(), alt->end(), json(alias)), alt->end());
      changed |= alt->size() != n;
      if (alt->empty()) content.erase("alt_aliases");
    }
    if (changed) {
      try {
        send_event(req, *room, draft(me, "m.room.canonical_alias", content, std::string()));
      } catch (const matrix_error& e) {
        if (e.code() != errc::forbidden) throw;
      }
    }
  }
  return {200, json::object()};
}

response room_aliases(request& req) {
  auto& room_id = req.params[0];
  require_room(req, room_id);
  require_joined(req, room_id);
  return {200, {{"aliases", req.ctx->rooms->aliases_for_room(room_id)}}};
}

} // namespace

void add_room_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"POST", c, "/createRoom", true, "client", create_room});
  out.push_back({"POST", c, "/join/{roomIdOrAlias}", true, "client", join, "events"});
  out.push_back({"POST", c, "/knock/{roomIdOrAlias}", true, "client", knock, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/join", true, "client", join, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/invite", true, "client", invite, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/leave", true, "client", leave, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/kick", true, "client",
                 [](request& r) { return change_member(r, "kick"); }, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/ban", true, "client",
                 [](request& r) { return change_member(r, "ban"); }, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/unban", true, "client",
                 [](request& r) { return change_member(r, "unban"); }, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/forget", true, "client", forget});
  out.push_back({"GET", c, "/joined_rooms", true, "client", joined_rooms});
  out.push_back({"GET", c, "/rooms/{roomId}/members", true, "client", members});
  out.push_back({"GET", c, "/rooms/{roomId}/joined_members", true, "client", joined_members});
  out.push_back({"GET", c, "/rooms/{roomId}/state", true, "client", get_state});
  out.push_back({"GET", c, "/rooms/{roomId}/state/{eventType}", true, "client", get_state_event, "events"});
  out.push_back(
    {"GET", c, "/rooms/{roomId}/state/{eventType}/{stateKey}", true, "client", get_state_event, "events"});
  out.push_back({"PUT", c, "/rooms/{roomId}/state/{eventType}", true, "client", put_state_event, "events"});
  out.push_back(
    {"PUT", c, "/rooms/{roomId}/state/{eventType}/{stateKey}", true, "client", put_state_event, "events"});
  out.push_back(
    {"PUT", c, "/rooms/{roomId}/send/{eventType}/{txnId}", true, "client", send_message, "events"});
  out.push_back({"POST", c, "/rooms/{roomId}/send/{eventType}", true, "client", send_message, "events"});
  out.push_back({"PUT", c, "/rooms/{roomId}/redact/{eventId}/{txnId}", true, "client", redact, "events"});
  out.push_back({"GET", c, "/rooms/{roomId}/event/{eventId}", true, "client", get_event});
  out.push_back({"GET", "/_matrix/client/v1", "/rooms/{roomId}/timestamp_to_event", true, "client", timestamp_to_event});
  out.push_back({"GET", c, "/directory/room/{roomAlias}", false, "client", get_alias});
  out.push_back({"PUT", c, "/directory/room/{roomAlias}", true, "client", put_alias});
  out.push_back({"DELETE", c, "/directory/room/{roomAlias}", true, "client", delete_alias});
  out.push_back({"GET", c, "/rooms/{roomId}/aliases", true, "client", room_aliases});
}

} // namespace axon::client
