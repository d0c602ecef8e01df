// actors/federation/event_handlers.cpp -- other servers reading a room's
// DAG (server-server API "Retrieving events", "Backfilling and retrieving
// missing events"): /event, /state, /state_ids, /event_auth,
// /get_missing_events, /backfill, /timestamp_to_event.
//
// History visibility holds for servers as for users (Synapse's
// filter_events_for_server): a server sees an event when the room was
// world_readable at it, or when one of its users could see it by the
// visibility then: "shared" any member of it at the event or now, "invited"
// one invited or joined at the event, "joined" one joined at the event.
// Events it may not see go to it redacted where Synapse does so (/event for
// a server in the room, /backfill, /get_missing_events), so its copy of the
// DAG has no holes. Reading a room's state or DAG needs a server in the room (403 "Host not in
// room."), as Synapse checks.
#include "actors/federation/routes.hpp"

#include "actors/client/common.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "actors/federation/rate_limit.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"

#include <algorithm>
#include <set>

namespace axon::federation {

namespace {

using http::request;
using http::response;
using nlohmann::json;

/// The most events one /backfill or /get_missing_events answer carries.
constexpr int64_t max_events = 100;

/// The room's version; 404 unknown room, 403 when `origin` is refused (ACL)
/// or, with `need_member`, has nobody in the room.
const matrix::room_version& readable_room(request& req, const std::string& room_id, bool need_member) {
  auto* v = room_version_of(*req.ctx, room_id);
  if (!v) http::fail(errc::not_found, "Unknown room " + room_id);
  if (!acl_allows(*req.ctx, room_id, req.origin)) http::fail(errc::forbidden, "Server is banned from room");
  if (need_member && !server_in_room(*req.ctx, room_id, req.origin)) http::fail(errc::forbidden, "Host not in room.");
  return *v;
}

/// Whether `origin` may see the event (see the top).
bool server_sees(request& req, const json& ev, bool joined_now) {
  auto& store = *req.ctx->events;
  auto state = store.state_after(ev.value("event_id", ""));
  if (!state) return false;
  // The state after the event counts, the event itself included, as
  // Synapse's filter_events_for_server and as for clients: a server sees
  // its user's join, and a history_visibility event by its own value.
  std::vector<std::string> ids;
  auto hv = state->find({"m.room.history_visibility", ""});
  if (hv != state->end()) ids.push_back(hv->second);
  for (auto& [key, id] : *state)
    if (key.first == "m.room.member" && matrix::server_of(key.second) == req.origin) ids.push_back(id);
  auto found = store.dag_events(ids);
  std::string visibility = "shared";
  bool joined = false, invited = false;
  for (auto& [id, e] : found) {
    auto content = e.json.value("content", json::object());
    if (e.json.value("type", "") == "m.room.history_visibility") {
      visibility = content.value("history_visibility", "shared");
    } else {
      auto m = content.value("membership", "");
      joined |= m == "join";
      invited |= m == "invite";
    }
  }
  if (visibility == "world_readable") return true;
  if (visibility == "shared") return joined || invited || joined_now;
  if (visibility == "invited") return joined || invited;
  return joined;
}

json pdus_of(request& req, const matrix::room_version& v, const std::vector<json>& events) {
  json out = json::array();
  auto now = req.ctx->env->now_ms();
  for (auto& e : events) out.push_back(wire_pdu(e, v, now));
  return out;
}

response get_event(request& req) {
  auto& event_id = req.params[0];
  auto found = req.ctx->events->dag_events({event_id});
  auto i = found.find(event_id);
  if (i == found.end() || !i->second.rejected.empty() || !i->second.json.is_object())
    http::fail(errc::not_found, "Event not found");
  auto room_id = i->second.json.value("room_id", "");
  auto& v = readable_room(req, room_id, false);
  // A server in the room gets an event it may not see redacted (Synapse's
  // get_persisted_pdu); one with nobody in it, nothing.
  bool joined_now = server_in_room(*req.ctx, room_id, req.origin);
  bool sees = server_sees(req, i->second.json, joined_now);
  if (!sees && !joined_now) http::fail(errc::not_found, "Event not found");
  return {200,
          {{"origin", req.ctx->cfg->server_name},
           {"origin_server_ts", req.ctx->env->now_ms()},
           {"pdus", pdus_of(req, v, {sees ? i->second.json : matrix::redact(i->second.json, v)})}}};
}

/// The state after the event's prev events, i.e. before it (/state,
/// /state_ids): event ids, and the auth chain's ids.
std::pair<std::vector<std::string>, std::vector<json>> state_before(request& req, const std::string& room_id,
                                                                     const std::string& event_id) {
  auto& store = *req.ctx->events;
  auto found = store.dag_events({event_id});
  auto i = found.find(event_id);
  if (i == found.end() || i->second.json.value("room_id", "") != room_id || !i->second.rejected.empty())
    http::fail(errc::not_found, "Event not found");
  if (!server_sees(req, i->second.json, true)) http::fail(errc::not_found, "Event not found");
  auto before = store.state_before(i->second.json);
  if (!before) http::fail(errc::not_found, "No state known at the event");
  std::vector<std::string> ids;
  for (auto& [k, id] : *before) ids.push_back(id);
  return {ids, store.auth_chain(ids)};
}

std::string required_event_id(request& req) {
  auto id = req.query_param("event_id");
  if (!id || id->empty()) http::fail(errc::missing_param, "Missing event_id");
  return *id;
}

response get_state_ids(request& req) {
  auto& room_id = req.params[0];
  readable_room(req, room_id, true);
  auto [ids, chain] = state_before(req, room_id, required_event_id(req));
  json chain_ids = json::array();
  for (auto& e : chain) chain_ids.push_back(e.value("event_id", ""));
  return {200, {{"pdu_ids", ids}, {"auth_chain_ids", chain_ids}}};
}

response get_state(request& req) {
  auto& room_id = req.params[0];
  auto& v = readable_room(req, room_id, true);
  auto [ids, chain] = state_before(req, room_id, required_event_id(req));
  std::vector<json> events;
  for (auto& [id, e] : req.ctx->events->dag_events(ids)) events.push_back(e.json);
  return {200, {{"pdus", pdus_of(req, v, events)}, {"auth_chain", pdus_of(req, v, chain)}}};
}

response get_event_auth(request& req) {
  auto& room_id = req.params[0];
  auto& event_id = req.params[1];
  auto& v = readable_room(req, room_id, true);
  auto found = req.ctx->events->dag_events({event_id});
  auto i = found.find(event_id);
  if (i == found.end() || i->second.json.value("room_id", "") != room_id)
    http::fail(errc::not_found, "Event not found");
  if (!server_sees(req, i->second.json, true)) http::fail(errc::not_found, "Event not found");
  return {200, {{"auth_chain", pdus_of(req, v, req.ctx->events->auth_chain({event_id}))}}};
}

/// Walks prev_events back from `from` (breadth first, newest depth first as
/// Synapse), stopping at `stop`, at most `limit` events; those the origin
/// may not see redacted (Synapse's filter_events_for_server with redact:
/// the DAG stays whole, the content stays here).
std::vector<json> walk_back(request& req, const matrix::room_version& v, const std::string& room_id,
                            std::vector<std::string> from,
                            const std::set<std::string>& stop, int64_t limit, int64_t min_depth, bool include_from) {
  auto& store = *req.ctx->events;
  std::set<std::string> seen(stop.begin(), stop.end());
  std::vector<json> out;
  bool joined_now = server_in_room(*req.ctx, room_id, req.origin);
  std::vector<std::string> frontier;
  if (include_from) {
    frontier = from;
  } else {
    // From the events' prev events; the events themselves are not sent.
    seen.insert(from.begin(), from.end());
    for (auto& [id, e] : store.dag_events(from))
      for (auto& p : matrix::referenced_event_ids(e.json.value("prev_events", json::array()))) frontier.push_back(p);
  }
  while (!frontier.empty() && static_cast<int64_t>(out.size()) < limit) {
    std::vector<std::string> want;
    for (auto& id : frontier)
      if (seen.insert(id).second) want.push_back(id);
    frontier.clear();
    auto found = store.dag_events(want);
    std::vector<json> level;
    for (auto& [id, e] : found) {
      if ((e.place != storage::event_place::timeline && e.place != storage::event_place::backfilled) ||
          e.json.value("room_id", "") != room_id)
        continue;
      if (e.json.value("depth", int64_t{0}) < min_depth) continue;
      level.push_back(e.json);
    }
    std::sort(level.begin(), level.end(), [](const json& a, const json& b) {
      return a.value("depth", int64_t{0}) > b.value("depth", int64_t{0});
    });
    for (auto& e : level) {
      if (static_cast<int64_t>(out.size()) >= limit) break;
      for (auto& p : matrix::referenced_event_ids(e.value("prev_events", json::array()))) frontier.push_back(p);
      out.push_back(server_sees(req, e, joined_now) ? e : matrix::redact(e, v));
    }
  }
  return out;
}

response get_missing_events(request& req) {
  auto& room_id = req.params[0];
  auto& v = readable_room(req, room_id, true);
  auto& body = req.json_body();
  auto latest = body.value("latest_events", json());
  auto earliest = body.value("earliest_events", json::array());
  if (!latest.is_array() || !earliest.is_array()) http::fail(errc::bad_json, "latest_events and earliest_events must be arrays");
  auto limit = std::clamp<int64_t>(body.value("limit", int64_t{10}), 0, max_events);
  auto min_depth = body.value("min_depth", int64_t{0});
  std::vector<std::string> from;
  std::set<std::string> stop;
  for (auto& l : latest)
    if (l.is_string()) from.push_back(l.get<std::string>());
  for (auto& e : earliest)
    if (e.is_string()) stop.insert(e.get<std::string>());
  auto events = walk_back(req, v, room_id, from, stop, limit, min_depth, false);
  // Oldest first, as Synapse answers.
  std::reverse(events.begin(), events.end());
  return {200, {{"events", pdus_of(req, v, events)}}};
}

response backfill(request& req) {
  auto& room_id = req.params[0];
  auto& v = readable_room(req, room_id, true);
  std::vector<std::string> from;
  for (auto [i, end] = req.query.equal_range("v"); i != end; ++i) from.push_back(i->second);
  if (from.empty()) http::fail(errc::missing_param, "Missing v");
  auto limit_text = req.query_param("limit");
  if (!limit_text) http::fail(errc::missing_param, "Missing limit");
  int64_t limit = 0;
  try {
    limit = std::stoll(*limit_text);
  } catch (const std::exception&) {
    http::fail(errc::invalid_param, "limit must be an integer");
  }
  limit = std::clamp<int64_t>(limit, 0, max_events);
  auto events = walk_back(req, v, room_id, from, {}, limit, 0, true);
  return {200,
          {{"origin", req.ctx->cfg->server_name},
           {"origin_server_ts", req.ctx->env->now_ms()},
           {"pdus", pdus_of(req, v, events)}}};
}

/// GET /timestamp_to_event/{roomId}: the event closest to `ts` the asking
/// server may see.
response timestamp_to_event(request& req) {
  auto& room_id = req.params[0];
  readable_room(req, room_id, true);
  auto [ts, forward] = client::time_and_direction(req);
  for (auto& ev : req.ctx->events->events_near_time(room_id, ts, forward, 50))
    if (server_sees(req, ev.json, true))
      return {200, {{"event_id", ev.json.value("event_id", "")}, {"origin_server_ts", ev.json.value("origin_server_ts", int64_t{0})}}};
  http::fail(errc::not_found, "Unable to find event from " + std::to_string(ts) + " in direction " + (forward ? "f" : "b"));
}

} // namespace

void add_event_routes(std::vector<http::route>& out) {
  const char* f = "/_matrix/federation/v1";
  out.push_back({"GET", f, "/event/{eventId}", true, "federation", rate_limited(get_event)});
  out.push_back({"GET", f, "/state/{roomId}", true, "federation", rate_limited(get_state)});
  out.push_back({"GET", f, "/state_ids/{roomId}", true, "federation", rate_limited(get_state_ids)});
  out.push_back({"GET", f, "/event_auth/{roomId}/{eventId}", true, "federation", rate_limited(get_event_auth)});
  out.push_back({"POST", f, "/get_missing_events/{roomId}", true, "federation", rate_limited(get_missing_events)});
  out.push_back({"GET", f, "/backfill/{roomId}", true, "federation", rate_limited(backfill)});
  out.push_back({"GET", f, "/timestamp_to_event/{roomId}", true, "federation", rate_limited(timestamp_to_event)});
}

} // namespace axon::federation
