// actors/client/hierarchy_handlers.cpp -- GET /_matrix/client/v1/rooms/
// {roomId}/hierarchy (client-server API "Spaces"): the space and the rooms
// under it, depth first in the spec's order, each room shown only to a user
// who may see it (actors/federation/hierarchy.hpp); rooms this server is not
// in are asked of the servers their m.space.child event names (`via`).
//
// Pages: Synapse keeps the walk's queue in a session; here the token names
// how many rooms earlier pages gave and what they were asked with, and the
// walk is done again up to there (its order is stable), so any instance can
// serve the next page and nothing is stored.
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/federation/hierarchy.hpp"
#include "actors/federation/pdu_intake.hpp"
#include "config/homeserver_config.hpp"

#include <charconv>
#include <cstdio>
#include <set>

namespace axon::client {

using http::fail;

namespace {

/// Synapse's MAX_ROOMS.
constexpr int64_t max_rooms = 50;

/// FNV-1a of what a page was asked with: a token is only good for the same.
std::string params_hash(const std::string& user, const std::string& room, bool suggested, int64_t max_depth) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  };
  mix(user);
  mix(room);
  mix(suggested ? "1" : "0");
  mix(std::to_string(max_depth));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct queued {
  std::string room_id;
  std::vector<std::string> via;
  int64_t depth = 0;
  json remote; ///< a summary another server gave with its parent, or null
};

response hierarchy(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto& ctx = *req.ctx;
  auto& user = req.auth().user_id;
  auto suggested_param = req.query_param("suggested_only").value_or("false");
  if (suggested_param != "true" && suggested_param != "false")
    fail(errc::invalid_param, "suggested_only must be true or false");
  bool suggested = suggested_param == "true";
  auto limit = int_param(req, "limit").value_or(max_rooms);
  if (limit < 1) fail(errc::invalid_param, "limit must be a positive integer");
  limit = std::min(limit, max_rooms);
  auto max_depth_param = int_param(req, "max_depth");
  if (max_depth_param && *max_depth_param < 0) fail(errc::invalid_param, "max_depth must be a non-negative integer");
  int64_t max_depth = max_depth_param.value_or(-1); // -1: no limit
  auto hash = params_hash(user, room_id, suggested, max_depth);
  int64_t skip = 0;
  if (auto from = req.query_param("from")) {
    auto dot = from->find('_');
    int64_t n = 0;
    auto [at, ec] = std::from_chars(from->data(), from->data() + (dot == std::string::npos ? 0 : dot), n);
    if (dot == std::string::npos || ec != std::errc() || at != from->data() + dot || n < 0 ||
        from->substr(dot + 1) != hash)
      fail(errc::invalid_param, "Unknown pagination token");
    skip = n;
  }
  if (!federation::local_room_accessible(ctx, room_id, user, ""))
    fail(errc::forbidden, "User " + user + " not in room " + room_id + ", and room previews are disabled");

  std::vector<queued> queue{{room_id, {}, 0, nullptr}};
  std::set<std::string> processed;
  json rooms = json::array();
  int64_t shown = 0;
  while (!queue.empty() && static_cast<int64_t>(rooms.size()) < limit) {
    auto q = std::move(queue.back());
    queue.pop_back();
    if (!processed.insert(q.room_id).second) continue;
    bool at_max = max_depth >= 0 && q.depth >= max_depth;
    json entry;
    std::map<std::string, json> child_summaries;
    std::set<std::string> inaccessible;
    if (federation::server_in_room(ctx, q.room_id, ctx.cfg->server_name)) {
      if (federation::local_room_accessible(ctx, q.room_id, user, ""))
        entry = federation::local_room_entry(ctx, q.room_id, false, suggested, true);
    } else {
      json summary;
      if (q.remote.is_object() && (q.remote.value("room_type", json()) != "m.space" || at_max)) {
        summary = q.remote;
        summary["children_state"] = json::array();
      } else if (auto got = federation::fetch_hierarchy(ctx, q.room_id, q.via, suggested)) {
        summary = std::move(got->room);
        child_summaries = std::move(got->children);
        inaccessible = std::move(got->inaccessible);
      }
      if (summary.is_object() && federation::remote_room_accessible(ctx, user, q.room_id, summary)) {
        summary.erase("allowed_room_ids");
        entry = std::move(summary);
      }
    }
    if (entry.is_null()) continue;
    if (shown++ >= skip) rooms.push_back(entry);
    if (at_max) continue;
    auto& children = entry["children_state"];
    // The next room to walk is the last queued: children in reverse.
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      auto id = it->value("state_key", "");
      if (id.empty() || inaccessible.count(id)) continue;
      queued c{id, {}, q.depth + 1, nullptr};
      for (auto& v : (*it)["content"]["via"])
        if (v.is_string()) c.via.push_back(v.get<std::string>());
      auto s = child_summaries.find(id);
      if (s != child_summaries.end()) c.remote = s->second;
      queue.push_back(std::move(c));
    }
  }
  json out = {{"rooms", rooms}};
  // More when rooms not yet walked remain (some may turn out hidden).
  bool more = false;
  for (auto& q : queue)
    if (!processed.count(q.room_id)) more = true;
  if (more) out["next_batch"] = std::to_string(shown) + "_" + hash;
  return {200, out};
}

} // namespace

void add_hierarchy_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/client/v1", "/rooms/{roomId}/hierarchy", true, "client", hierarchy});
}

} // namespace axon::client
