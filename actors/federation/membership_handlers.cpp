// actors/federation/membership_handlers.cpp -- this server as the resident
// of a room another server's user joins (server-server API "Joining
// Rooms", "Leaving Rooms", "Knocking", "Inviting to a room"): GET
// /make_join gives the join event to sign, PUT /send_join (v2; v1 for old
// servers) takes it, has the room's events writer check and place it like
// any received PDU, passes it on to the room's other servers, and answers
// with the room's state before the join and its auth chain (with
// omit_members, Synapse's and MSC3706's "faster joins": member events left
// out of the state, except the heroes'). Leaves and knocks go the same way.
// PUT /invite takes an invite for one of this server's users.
#include "actors/federation/routes.hpp"

#include "actors/federation/pdu_intake.hpp"
#include "actors/federation/rate_limit.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/auth_rules.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/signing.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <set>

namespace axon::federation {

namespace {

using http::request;
using http::response;
using nlohmann::json;

/// How many members a room summary names (the spec's m.heroes).
constexpr size_t heroes = 5;

/// The room's version, 404 when this server is not in the room, 403 when
/// its ACL refuses `origin`.
const matrix::room_version& resident_room(request& req, const std::string& room_id) {
  auto* v = room_version_of(*req.ctx, room_id);
  if (!v || req.ctx->rooms->joined_users(room_id).empty())
    http::fail(errc::not_found, "Unknown room " + room_id);
  if (!acl_allows(*req.ctx, room_id, req.origin)) http::fail(errc::forbidden, "Server is banned from room");
  return *v;
}

} // namespace

json stripped_state(const matrix::auth_state& state, const std::string& sender) {
  static const char* types[] = {"m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
                                "m.room.canonical_alias", "m.room.encryption", "m.room.topic"};
  json out = json::array();
  for (auto* t : types) {
    auto i = state.find({t, ""});
    if (i == state.end()) continue;
    out.push_back({{"type", t}, {"state_key", ""}, {"content", i->second.value("content", json::object())},
                   {"sender", i->second.value("sender", "")}});
  }
  if (!sender.empty()) {
    auto i = state.find({"m.room.member", sender});
    if (i != state.end())
      out.push_back({{"type", "m.room.member"}, {"state_key", sender},
                     {"content", i->second.value("content", json::object())}, {"sender", sender}});
  }
  return out;
}

namespace {

/// A local user who may invite in `state` (restricted joins: the resident
/// vouches through one).
std::string authorising_user(request& req, const matrix::auth_state& state) {
  auto need = matrix::named_power_level(state, "invite");
  for (auto& [key, ev] : state) {
    if (key.first != "m.room.member" || matrix::server_of(key.second) != req.ctx->cfg->server_name) continue;
    if (ev.value("content", json::object()).value("membership", "") != "join") continue;
    if (matrix::user_power_level(state, key.second) >= need) return key.second;
  }
  return "";
}

/// Whether the user is joined to a room the join rules' `allow` names
/// (m.room_membership), as far as this server knows.
bool allowed_by_rule(request& req, const matrix::auth_state& state, const std::string& user_id) {
  auto jr = state.find({"m.room.join_rules", ""});
  if (jr == state.end()) return false;
  auto allow = jr->second.value("content", json::object()).value("allow", json::array());
  if (!allow.is_array()) return false;
  for (auto& a : allow) {
    if (!a.is_object() || a.value("type", "") != "m.room_membership") continue;
    auto room = a.value("room_id", "");
    if (room.empty()) continue;
    auto m = req.ctx->rooms->current_state_event(room, "m.room.member", user_id);
    if (m && m->value("content", json::object()).value("membership", "") == "join") return true;
  }
  return false;
}

/// GET make_join / make_leave / make_knock: the event for the joining
/// server to sign.
response make_membership(request& req, const std::string& membership) {
  auto& room_id = req.params[0];
  auto& user_id = req.params[1];
  if (!matrix::parse_user_id(user_id) || matrix::server_of(user_id) != req.origin)
    http::fail(errc::forbidden, "The user does not belong to the requesting server");
  auto& v = resident_room(req, room_id);
  if (membership != "leave") {
    // The versions the joining server supports (default: "1").
    std::vector<std::string> ver;
    for (auto [i, end] = req.query.equal_range("ver"); i != end; ++i) ver.push_back(i->second);
    if (ver.empty() && membership == "join") ver.push_back("1");
    if (std::find(ver.begin(), ver.end(), v.id) == ver.end() || (membership == "knock" && !v.knock)) {
      json body = {{"errcode", to_string(errc::incompatible_room_version)},
                   {"error", "Your homeserver does not support the features required to " + membership + " this room"},
                   {"room_version", v.id}};
      return {info(errc::incompatible_room_version).status, body};
    }
  }
  json content = {{"membership", membership}};
  auto state = current_auth_state(*req.ctx, room_id);
  if (membership == "join") {
    // Restricted rooms: a user not joined or invited is let in by one of ours.
    auto jr = state.find({"m.room.join_rules", ""});
    auto rule = jr == state.end() ? "invite" : jr->second.value("content", json::object()).value("join_rule", "invite");
    auto mine = state.find({"m.room.member", user_id});
    auto current = mine == state.end() ? "" : mine->second.value("content", json::object()).value("membership", "");
    if (v.restricted && (rule == "restricted" || (rule == "knock_restricted" && v.knock_restricted)) &&
        current != "join" && current != "invite") {
      if (!allowed_by_rule(req, state, user_id))
        http::fail(errc::unable_to_authorise_join, "You do not belong to any of the required rooms to join this room.");
      auto by = authorising_user(req, state);
      if (by.empty()) http::fail(errc::unable_to_grant_join, "No user on this server can let you in");
      content["join_authorised_via_users_server"] = by;
    }
  }
  auto [ev, current_state] = event_template(*req.ctx, room_id, v,
                                            {{"type", "m.room.member"},
                                             {"sender", user_id},
                                             {"state_key", user_id},
                                             {"content", content},
                                             {"origin", req.origin}});
  // Would it be allowed? (Not signed yet: rule 4.2's signature check
  // doesn't apply to a template.)
  if (auto why = matrix::check_auth(ev, current_state, v)) http::fail(errc::forbidden, *why);
  return {200, {{"event", ev}, {"room_version", v.id}}};
}

response make_join(request& req) { return make_membership(req, "join"); }
response make_leave(request& req) { return make_membership(req, "leave"); }
response make_knock(request& req) { return make_membership(req, "knock"); }

/// The send_join answer's body (both versions).
json send_join_body(request& req, const std::string& room_id, const matrix::room_version& v, const json& join,
                    bool omit_members) {
  auto& store = *req.ctx->events;
  auto id = join.value("event_id", "");
  auto before = store.state_before(join);
  if (!before) http::fail(errc::unknown, "The join was stored without its state");
  auto& state = *before;
  std::vector<std::string> ids;
  for (auto& [key, eid] : state)
    if (!omit_members || key.first != "m.room.member") ids.push_back(eid);
  auto events = store.dag_events(ids);
  auto now = req.ctx->env->now_ms();
  json state_out = json::array();
  std::set<std::string> in_state;
  for (auto& [eid, e] : events) {
    state_out.push_back(wire_pdu(e.json, v, now));
    in_state.insert(eid);
  }
  // Joined servers before the join, and (without a name or alias) the
  // heroes' member events with their auth chains.
  std::set<std::string> servers;
  std::vector<std::string> hero_ids;
  for (auto& m : req.ctx->rooms->current_members(room_id, "join")) {
    auto uid = m.value("state_key", "");
    if (uid == join.value("state_key", "")) continue;
    servers.insert(matrix::server_of(uid));
    if (omit_members && hero_ids.size() < heroes && !state.count({"m.room.name", ""}) &&
        !state.count({"m.room.canonical_alias", ""}))
      hero_ids.push_back(m.value("event_id", ""));
  }
  if (omit_members)
    for (auto& [eid, e] : store.dag_events(hero_ids)) {
      state_out.push_back(wire_pdu(e.json, v, now));
      in_state.insert(eid);
    }
  std::vector<std::string> chain_from(in_state.begin(), in_state.end());
  chain_from.push_back(id);
  json chain = json::array();
  for (auto& e : store.auth_chain(chain_from)) {
    if (omit_members && in_state.count(e.value("event_id", ""))) continue;
    chain.push_back(wire_pdu(e, v, now));
  }
  json body = {{"origin", req.ctx->cfg->server_name}, {"state", state_out}, {"auth_chain", chain},
               {"event", wire_pdu(join, v, now)}, {"members_omitted", omit_members}};
  if (omit_members) body["servers_in_room"] = json(std::vector<std::string>(servers.begin(), servers.end()));
  return body;
}

/// PUT send_join / send_leave / send_knock: checks the event and has it
/// placed like any received PDU, passed on to the room's other servers.
json take_membership(request& req, const std::string& membership) {
  auto& room_id = req.params[0];
  auto& event_id = req.params[1];
  auto& v = resident_room(req, room_id);
  auto& body = req.json_body();
  if (body.value("type", "") != "m.room.member" || !body.contains("state_key") ||
      body.value("content", json::object()).value("membership", "") != membership)
    http::fail(errc::bad_json, "Not a " + membership + " event");
  auto sender = body.value("sender", "");
  if (body.value("state_key", "") != sender || matrix::server_of(sender) != req.origin)
    http::fail(errc::forbidden, "The event's sender must be the requesting server's user");
  std::string why;
  // A restricted join is signed by us as well before anything else checks
  // it (rule 4.3.5's authorising server).
  json pdu = body;
  pdu.erase("unsigned");
  auto via = body.value("content", json::object()).value("join_authorised_via_users_server", json());
  if (membership == "join" && v.restricted && via.is_string() &&
      matrix::server_of(via.get<std::string>()) == req.ctx->cfg->server_name) {
    if (v.format != matrix::event_format::v1) pdu.erase("event_id");
    matrix::sign_event(pdu, req.ctx->cfg->server_name, *req.ctx->key, v);
  }
  json hashed = pdu;
  if (v.format != matrix::event_format::v1) hashed.erase("event_id");
  if (!matrix::verify_content_hash(hashed)) http::fail(errc::bad_json, "The event's content hash does not match");
  auto ev = check_received_pdu(*req.ctx, pdu, v, room_id, &why);
  if (!ev) http::fail(errc::bad_json, "Invalid " + membership + " event: " + why);
  if (ev->value("event_id", "") != event_id) http::fail(errc::bad_json, "The event id does not match the event");
  msg::send_events batch;
  batch.room_id = room_id;
  batch.origin = req.origin;
  batch.relay = true;
  batch.pdus.push_back(ev->dump());
  auto reply = req.ctx->transport->send_events(batch);
  if (reply.pdu_errors.empty() || !reply.pdu_errors[0].empty())
    http::fail(errc::forbidden, reply.pdu_errors.empty() ? "The event was not accepted" : reply.pdu_errors[0]);
  return *ev;
}

response send_join_v2(request& req) {
  auto ev = take_membership(req, "join");
  auto omit = req.query_param("omit_members");
  return {200, send_join_body(req, req.params[0], *room_version_of(*req.ctx, req.params[0]), ev,
                              omit && *omit == "true")};
}
response send_join_v1(request& req) {
  auto ev = take_membership(req, "join");
  return {200, json::array({200, send_join_body(req, req.params[0], *room_version_of(*req.ctx, req.params[0]), ev,
                                                false)})};
}
response send_leave_v2(request& req) {
  take_membership(req, "leave");
  return {200, json::object()};
}
response send_leave_v1(request& req) {
  take_membership(req, "leave");
  return {200, json::array({200, json::object()})};
}
response send_knock(request& req) {
  take_membership(req, "knock");
  auto stripped = stripped_state(current_auth_state(*req.ctx, req.params[0]), "");
  // The spec's name, and MSC2403's, which Synapse 1.67 reads.
  return {200, {{"knock_room_state", stripped}, {"knock_state_events", stripped}}};
}

/// PUT /invite (v2: {room_version, event, invite_room_state}; v1: the
/// event, rooms v1/v2): an invite for one of this server's users, signed
/// here too and kept (out of band, when this server is not in the room)
/// for the user to see in /sync with the room's stripped state.
json take_invite(request& req, const json& event, const std::string& version, const json& invite_state) {
  auto& room_id = req.params[0];
  auto& event_id = req.params[1];
  auto* v = matrix::find_room_version(version);
  if (!v) {
    matrix_error e(errc::incompatible_room_version, "This server does not support room version " + version);
    e.extra_json = json{{"room_version", version}}.dump();
    throw e;
  }
  if (!event.is_object() || event.value("type", "") != "m.room.member" ||
      event.value("content", json::object()).value("membership", "") != "invite")
    http::fail(errc::bad_json, "Not an invite event");
  auto target = event.value("state_key", "");
  if (matrix::server_of(target) != req.ctx->cfg->server_name || !req.ctx->accounts->user_exists(target))
    http::fail(errc::not_found, "Unknown user " + target);
  if (matrix::server_of(event.value("sender", "")) != req.origin)
    http::fail(errc::forbidden, "The invite's sender must be the requesting server's user");
  std::string why;
  auto checked = check_received_pdu(*req.ctx, event, *v, room_id, &why);
  if (!checked) http::fail(errc::forbidden, "Invalid invite event: " + why);
  if (checked->value("event_id", "") != event_id) http::fail(errc::bad_json, "The event id does not match the event");
  json signed_ev = event;
  signed_ev.erase("unsigned");
  if (v->format != matrix::event_format::v1) signed_ev.erase("event_id");
  matrix::sign_event(signed_ev, req.ctx->cfg->server_name, *req.ctx->key, *v);
  bool here = server_in_room(*req.ctx, room_id, req.ctx->cfg->server_name);
  if (!here) {
    // Out of band: no state to check it against; kept with what the
    // inviting server says of the room (at most 50 stripped events).
    json stored = signed_ev;
    stored["event_id"] = event_id;
    stored["unsigned"] = {{"invite_room_state", checked_stripped_state(invite_state)}};
    msg::send_events batch;
    batch.room_id = room_id;
    batch.room_version = v->id;
    batch.origin = req.origin;
    batch.join_state.push_back(stored.dump());
    req.ctx->transport->send_events(batch);
  }
  return wire_pdu(signed_ev, *v, req.ctx->env->now_ms());
}

response invite_v2(request& req) {
  auto& body = req.json_body();
  auto version = body.value("room_version", json());
  if (!version.is_string()) http::fail(errc::bad_json, "room_version must be a string");
  auto ev = take_invite(req, body.value("event", json()), version.get<std::string>(),
                        body.value("invite_room_state", json::array()));
  return {200, {{"event", ev}}};
}
response invite_v1(request& req) {
  auto ev = take_invite(req, req.json_body(), "1", req.json_body().value("unsigned", json::object()).value("invite_room_state", json::array()));
  return {200, json::array({200, {{"event", ev}}})};
}

} // namespace

void add_membership_routes(std::vector<http::route>& out) {
  const char *f1 = "/_matrix/federation/v1", *f2 = "/_matrix/federation/v2";
  out.push_back({"GET", f1, "/make_join/{roomId}/{userId}", true, "federation", rate_limited(make_join)});
  out.push_back({"PUT", f1, "/send_join/{roomId}/{eventId}", true, "federation", rate_limited(send_join_v1)});
  out.push_back({"PUT", f2, "/send_join/{roomId}/{eventId}", true, "federation", rate_limited(send_join_v2)});
  out.push_back({"GET", f1, "/make_leave/{roomId}/{userId}", true, "federation", rate_limited(make_leave)});
  out.push_back({"PUT", f1, "/send_leave/{roomId}/{eventId}", true, "federation", rate_limited(send_leave_v1)});
  out.push_back({"PUT", f2, "/send_leave/{roomId}/{eventId}", true, "federation", rate_limited(send_leave_v2)});
  out.push_back({"GET", f1, "/make_knock/{roomId}/{userId}", true, "federation", rate_limited(make_knock)});
  out.push_back({"PUT", f1, "/send_knock/{roomId}/{eventId}", true, "federation", rate_limited(send_knock)});
  out.push_back({"PUT", f1, "/invite/{roomId}/{eventId}", true, "federation", rate_limited(invite_v1)});
  out.push_back({"PUT", f2, "/invite/{roomId}/{eventId}", true, "federation", rate_limited(invite_v2)});
}

} // namespace axon::federation
