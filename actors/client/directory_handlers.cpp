// actors/client/directory_handlers.cpp -- the public room directory.
// Spec: client-server API "Room Directory" (/publicRooms,
// /directory/list/room/{roomId}).
#include "actors/client/common.hpp"
#include "actors/client/directory.hpp"
#include "actors/client/routes.hpp"
#include "actors/federation/federation_client.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/auth_rules.hpp"
#include "matrix/identifiers.hpp"
#include "storage/stores/rooms_store.hpp"

#include <algorithm>

namespace axon::client {

using http::fail;

namespace {

// ---- constants -------------------------------------------------------------------

constexpr int64_t max_limit = 500;

// ---- helpers -----------------------------------------------------------------------

} // namespace

json room_directory_entry(http::server_context& ctx, const std::string& room_id) {
  return room_directory_entry(room_id, ctx.rooms->current_state(room_id));
}

json room_directory_entry(const std::string& room_id, const std::vector<json>& state) {
  json c = {{"room_id", room_id},
            {"num_joined_members", 0},
            {"world_readable", false},
            {"guest_can_join", false},
            {"join_rule", "invite"}};
  int64_t joined = 0;
  for (auto& ev : state) {
    auto type = ev.value("type", "");
    auto ci = ev.find("content");
    if (ci == ev.end() || !ci->is_object()) continue;
    auto& content = *ci;
    auto str = [&](const char* k) -> std::optional<std::string> {
      auto i = content.find(k);
      if (i == content.end() || !i->is_string()) return std::nullopt;
      return i->get<std::string>();
    };
    if (type == "m.room.member") {
      if (str("membership").value_or("") == "join") ++joined;
    } else if (type == "m.room.name") {
      if (auto v = str("name"); v && !v->empty()) c["name"] = *v;
    } else if (type == "m.room.topic") {
      if (auto v = str("topic"); v && !v->empty()) c["topic"] = *v;
    } else if (type == "m.room.canonical_alias") {
      if (auto v = str("alias"); v && !v->empty()) c["canonical_alias"] = *v;
    } else if (type == "m.room.avatar") {
      if (auto v = str("url"); v && !v->empty()) c["avatar_url"] = *v;
    } else if (type == "m.room.history_visibility") {
      c["world_readable"] = str("history_visibility").value_or("") == "world_readable";
    } else if (type == "m.room.guest_access") {
      c["guest_can_join"] = str("guest_access").value_or("") == "can_join";
    } else if (type == "m.room.join_rules") {
      if (auto v = str("join_rule")) c["join_rule"] = *v;
    } else if (type == "m.room.create") {
      if (auto v = str("type")) c["room_type"] = *v;
    }
  }
  c["num_joined_members"] = joined;
  return c;
}

namespace {

bool matches(const json& chunk, const std::string& term) {
  if (term.empty()) return true;
  auto t = lower(term);
  for (auto k : {"name", "topic", "canonical_alias"})
    if (chunk.contains(k) && lower(chunk[k].get<std::string>()).find(t) != std::string::npos)
      return true;
  return false;
}

/// Pagination tokens are offsets into the list ordered by size: "p<offset>".
int64_t parse_since(const std::string& since) {
  if (since.size() < 2 || since[0] != 'p') fail(errc::invalid_param, "Invalid since token");
  try {
    size_t used = 0;
    auto n = std::stoll(since.substr(1), &used);
    if (used + 1 != since.size() || n < 0) throw std::invalid_argument("since");
    return n;
  } catch (const std::exception&) {
    fail(errc::invalid_param, "Invalid since token");
  }
}

} // namespace

json public_rooms_page(request& req, std::optional<int64_t> limit, const std::optional<std::string>& since,
                       const std::string& term) {
  auto offset = since ? parse_since(*since) : 0;
  std::vector<json> all;
  for (auto& room : req.ctx->rooms->public_rooms()) {
    auto c = room_directory_entry(*req.ctx, room.room_id);
    if (matches(c, term)) all.push_back(std::move(c));
  }
  // Largest rooms first, then by id for a stable order across pages.
  std::sort(all.begin(), all.end(), [](const json& a, const json& b) {
    auto na = a["num_joined_members"].get<int64_t>(), nb = b["num_joined_members"].get<int64_t>();
    if (na != nb) return na > nb;
    return a["room_id"].get<std::string>() < b["room_id"].get<std::string>();
  });
  auto total = static_cast<int64_t>(all.size());
  auto n = std::min(limit.value_or(max_limit), max_limit);
  json chunk = json::array();
  for (int64_t i = offset; i < total && i < offset + n; ++i) chunk.push_back(all[static_cast<size_t>(i)]);
  json out = {{"chunk", chunk}, {"total_room_count_estimate", total}};
  if (offset + n < total) out["next_batch"] = "p" + std::to_string(offset + n);
  if (offset > 0) out["prev_batch"] = "p" + std::to_string(std::max<int64_t>(0, offset - n));
  return out;
}

public_rooms_query public_rooms_body(const json& body) {
  public_rooms_query q;
  if (auto l = body.find("limit"); l != body.end() && !l->is_null()) {
    if (!l->is_number_integer() || l->get<int64_t>() < 0) fail(errc::bad_json, "limit must be a non-negative integer");
    q.limit = l->get<int64_t>();
  }
  q.since = optional_string(body, "since");
  if (auto f = optional_object(body, "filter")) q.term = optional_string(*f, "generic_search_term").value_or("");
  return q;
}

namespace {

/// Another server's directory (?server=), asked over federation: GET
/// without a search term, POST with one, as Synapse does; its error passed
/// on, 502 when it can't be reached.
response remote_public_rooms(request& req, const std::string& server, const public_rooms_query& q) {
  if (!matrix::valid_server_name(server)) fail(errc::invalid_param, "Invalid server name");
  req.ctx->federation->require_allowed(server);
  federation::remote_response r;
  if (q.term.empty()) {
    std::string path = "/_matrix/federation/v1/publicRooms";
    std::string sep = "?";
    if (q.limit) path += sep + "limit=" + std::to_string(*q.limit), sep = "&";
    if (q.since) path += sep + "since=" + federation::escape(*q.since);
    r = req.ctx->federation->request(server, "GET", path);
  } else {
    json body = {{"filter", {{"generic_search_term", q.term}}}};
    if (q.limit) body["limit"] = *q.limit;
    if (q.since) body["since"] = *q.since;
    r = req.ctx->federation->request(server, "POST", "/_matrix/federation/v1/publicRooms", body);
  }
  auto& body = federation::body_or_fail(r, "Failed to fetch room list");
  if (!body.contains("chunk") || !body["chunk"].is_array())
    fail(errc::bad_gateway, "Failed to fetch room list: not a directory answer");
  // Only the directory's fields, and only well-formed entries.
  json out = {{"chunk", json::array()}};
  for (auto& c : body["chunk"])
    if (c.is_object() && c.contains("room_id") && c["room_id"].is_string()) out["chunk"].push_back(c);
  for (const char* k : {"next_batch", "prev_batch"})
    if (body.contains(k) && body[k].is_string()) out[k] = body[k];
  if (body.contains("total_room_count_estimate") && body["total_room_count_estimate"].is_number_integer())
    out["total_room_count_estimate"] = body["total_room_count_estimate"];
  return {200, out};
}

// ---- handlers ----------------------------------------------------------------------

response get_public_rooms(request& req) {
  public_rooms_query q;
  q.limit = int_param(req, "limit");
  q.since = req.query_param("since");
  if (auto server = req.query_param("server"); server && *server != server_name(req))
    return remote_public_rooms(req, *server, q);
  return {200, public_rooms_page(req, q.limit, q.since, "")};
}

response post_public_rooms(request& req) {
  auto q = public_rooms_body(req.json_body());
  if (auto server = req.query_param("server"); server && *server != server_name(req))
    return remote_public_rooms(req, *server, q);
  return {200, public_rooms_page(req, q.limit, q.since, q.term)};
}

response get_visibility(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto room = req.ctx->rooms->get_room(room_id);
  if (!room) fail(errc::not_found, "Unknown room");
  return {200, {{"visibility", room->is_public ? "public" : "private"}}};
}

response put_visibility(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto room = req.ctx->rooms->get_room(room_id);
  if (!room) fail(errc::not_found, "Unknown room");
  auto visibility = optional_string(req.json_body(), "visibility").value_or("public");
  if (visibility != "public" && visibility != "private")
    fail(errc::invalid_param, "visibility must be public or private");
  // As Synapse: publishing needs the power to change the room's canonical alias.
  matrix::auth_state st;
  for (auto& ev : req.ctx->rooms->current_state(room_id))
    st[{ev.value("type", ""), ev.value("state_key", "")}] = ev;
  auto& me = req.auth().user_id;
  auto member = st.find({"m.room.member", me});
  bool joined = member != st.end() && member->second["content"].value("membership", "") == "join";
  if (!joined || matrix::user_power_level(st, me) <
                   matrix::required_event_level(st, "m.room.canonical_alias", true))
    fail(errc::forbidden, "You don't have permission to change the room's directory visibility");
  req.ctx->rooms->set_public(room_id, visibility == "public");
  return {200, json::object()};
}

} // namespace

void add_directory_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/publicRooms", false, "client", get_public_rooms});
  out.push_back({"POST", c, "/publicRooms", true, "client", post_public_rooms});
  out.push_back({"GET", c, "/directory/list/room/{roomId}", false, "client", get_visibility});
  out.push_back({"PUT", c, "/directory/list/room/{roomId}", true, "client", put_visibility});
}

} // namespace axon::client
