// actors/client/legacy_sync_handlers.cpp -- the sync API before /sync:
// GET /events (the event stream, with room_id peeking), GET /initialSync,
// GET /rooms/{roomId}/initialSync and GET /events/{eventId}. Deprecated in the spec, still used by
// bots, bridges and test tools; Synapse 1.67 serves them on generic workers
// (handlers/events.py, handlers/initial_sync.py).
//
// They read the same streams as /sync (the add_* sections of sync_streams.hpp
// for typing, receipts, presence and account data) and wait on the same
// notifier (transport wait_for_updates), with history visibility applied as
// on every read path (history.hpp). Tokens are /sync tokens: an `end` works
// as a `since` and the other way round.
#include "actors/client/common.hpp"
#include "actors/client/history.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "matrix/filter.hpp"
#include "matrix/stream_token.hpp"
#include "storage/stores/account_data_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

namespace axon::client {

using http::fail;

namespace {

constexpr int64_t default_stream_limit = 100; ///< /events: events per response
constexpr int64_t default_room_limit = 10;    ///< initialSync: messages per room
constexpr int64_t max_limit = 1000;           ///< Synapse's MAX_LIMIT
constexpr int64_t default_timeout_ms = 30000; ///< Synapse's DEFAULT_LONGPOLL_TIME_MS
constexpr int64_t min_timeout_ms = 500;
constexpr int64_t max_timeout_ms = 10 * 60 * 1000;
/// Hidden events (history visibility) a room's page may step over.
constexpr size_t max_skipped = 1000;

int64_t limit_param(request& req, int64_t fallback) {
  auto limit = int_param(req, "limit");
  if (limit && *limit < 0) fail(errc::invalid_param, "Limit must be 0 or above");
  return limit && *limit > 0 ? std::min(*limit, max_limit) : fallback;
}

/// The rooms where the user's membership is one of `wanted`, each as of the
/// positions `pos` (a membership newer than them is read back to what it
/// was there, as /sync does).
std::vector<storage::membership_row> memberships_at(request& req, const std::vector<int64_t>& pos,
                                                    const std::set<std::string>& wanted) {
  std::vector<storage::membership_row> out;
  auto& me = req.auth().user_id;
  for (auto& m : req.ctx->rooms->memberships(me)) {
    auto at = room_position(req, pos, m.room_id);
    auto row = m;
    if (m.stream_ordering > at) {
      auto then = req.ctx->rooms->membership_at(me, m.room_id, at);
      if (!then) continue;
      row = std::move(*then);
    }
    if (!row.forgotten && wanted.count(row.membership)) out.push_back(std::move(row));
  }
  return out;
}

/// Positions `pos` with room `room_id`'s events ending at `at` (a departed
/// room ends at the leave).
std::vector<int64_t> ending_at(request& req, std::vector<int64_t> pos, const std::string& room_id,
                               int64_t at) {
  pos[0] = std::min(pos[0], at);
  pos[room_entry(req, room_id)] = at;
  return pos;
}

/// The newest `limit` events of a room in (0, upto] the user may see,
/// oldest first, and the position just before the oldest (a /messages
/// `from` that continues backwards from there).
struct recent_page {
  json chunk = json::array();
  int64_t start = 0;
};

recent_page recent_events(request& req, const std::string& room_id, int64_t upto, int64_t limit,
                          history_filter& visible) {
  recent_page page;
  page.start = upto;
  std::vector<json> picked;
  size_t skipped = 0;
  int64_t hi = upto;
  auto fetch = static_cast<size_t>(limit + 1);
  auto now = now_ms(req);
  while (hi > 0 && static_cast<int64_t>(picked.size()) < limit && skipped <= max_skipped) {
    auto rows = req.ctx->events->room_events(room_id, 0, hi, fetch, true);
    for (auto& r : rows) {
      if (static_cast<int64_t>(picked.size()) >= limit || skipped > max_skipped) break;
      hi = r.stream_ordering - 1;
      if (visible.allows(r.json, r.stream_ordering)) picked.push_back(client_event(r.json, &req.auth(), now));
      else ++skipped;
    }
    if (rows.size() < fetch) break;
  }
  page.start = hi;
  for (auto i = picked.rbegin(); i != picked.rend(); ++i) page.chunk.push_back(std::move(*i));
  return page;
}

json client_events(request& req, const std::vector<json>& events) {
  json out = json::array();
  auto now = now_ms(req);
  for (auto& ev : events) out.push_back(client_event(ev, &req.auth(), now));
  return out;
}

/// The user's account data: global events, and per room (tags included:
/// they are the room's m.tag account data).
struct account_data_view {
  json global = json::array();
  std::map<std::string, json> rooms;
};

account_data_view account_data_of(request& req, int64_t upto) {
  account_data_view out;
  for (auto& r : req.ctx->account_data->changed(req.auth().user_id, 0, upto)) {
    json ev = {{"type", r.type}, {"content", json::parse(r.content, nullptr, false)}};
    if (ev["content"].is_discarded()) continue;
    if (r.room_id.empty()) out.global.push_back(std::move(ev));
    else {
      auto& list = out.rooms[r.room_id];
      if (list.is_null()) list = json::array();
      list.push_back(std::move(ev));
    }
  }
  return out;
}

/// Presence as the legacy APIs carry it: the user id inside the content too
/// (Synapse's format_user_presence_state).
json presence_events(const json& sync_presence) {
  json out = json::array();
  for (auto ev : sync_presence.value("events", json::array())) {
    if (ev.contains("sender") && ev["content"].is_object()) ev["content"]["user_id"] = ev["sender"];
    out.push_back(std::move(ev));
  }
  return out;
}

/// The ephemeral events /sync would put under rooms.join (typing, receipts),
/// each with its room_id, from a response `out` built by add_typing and
/// add_receipts.
void ephemeral_into(const json& out, json& chunk, const char* only_type = nullptr) {
  auto rooms = out.find("rooms");
  if (rooms == out.end()) return;
  const json join = rooms->value("join", json::object());
  for (auto& [room_id, room] : join.items())
    for (auto ev : room.value("ephemeral", json::object()).value("events", json::array())) {
      if (only_type && ev.value("type", "") != only_type) continue;
      ev["room_id"] = room_id;
      chunk.push_back(std::move(ev));
    }
}

// ---- GET /events ------------------------------------------------------------------------------

/// One response of the event stream from positions `from`: the room events
/// after it (oldest first, `limit` at most, nothing skipped: where the limit
/// cuts, `end` stops before the first event left out, per events writer),
/// then typing, receipts, presence and account data changes. `end` is
/// where the next request continues.
struct stream_page {
  json chunk = json::array();
  std::vector<int64_t> end;
  std::vector<std::string> wait_rooms; ///< what a wait for more listens to
};

struct room_candidate {
  int64_t position;
  size_t writer_entry; ///< the positions entry that covers the room
  json event;
};

stream_page event_stream(request& req, const std::vector<int64_t>& from,
                         const std::vector<int64_t>& pos, int64_t limit,
                         const std::optional<std::string>& peek_room) {
  stream_page page;
  page.end = pos;
  // Room events: the joined rooms' events, those of rooms left since the
  // token up to the leave, and the user's own membership changes elsewhere
  // (an invite), as Synapse's RoomEventSource.
  std::vector<room_candidate> candidates;
  std::vector<std::pair<size_t, int64_t>> cut; // entry, first position left unread
  auto read_room = [&](const std::string& room_id, int64_t hi, history_filter& visible) {
    auto lo = room_position(req, from, room_id);
    if (lo >= hi) return;
    auto fetch = static_cast<size_t>(limit + 1);
    auto rows = req.ctx->events->room_events(room_id, lo, hi, fetch, false);
    auto entry = room_entry(req, room_id);
    if (rows.size() == fetch) {
      cut.emplace_back(entry, rows.back().stream_ordering);
      rows.pop_back();
    }
    for (auto& r : rows)
      if (visible.allows(r.json, r.stream_ordering))
        candidates.push_back({r.stream_ordering, entry, std::move(r.json)});
  };
  std::vector<std::string> joined;
  if (peek_room) {
    auto hi = room_position(req, pos, *peek_room);
    history_filter visible(req, *peek_room, hi, true);
    read_room(*peek_room, hi, visible);
    page.wait_rooms.push_back(*peek_room);
  } else {
    for (auto& m : memberships_at(req, pos, {"join", "invite", "leave", "ban"})) {
      auto lo = room_position(req, from, m.room_id);
      if (m.membership == "join" || m.membership == "invite") page.wait_rooms.push_back(m.room_id);
      if (m.membership == "join") {
        joined.push_back(m.room_id);
        auto hi = room_position(req, pos, m.room_id);
        history_filter visible(req, m.room_id, hi, false, m.stream_ordering);
        read_room(m.room_id, hi, visible);
      } else if ((m.membership == "leave" || m.membership == "ban") && m.stream_ordering > lo) {
        // Left since the token: what happened there up to the leave, the
        // leave included (as /sync's rooms.leave timeline).
        history_filter visible(req, m.room_id, m.stream_ordering, false);
        read_room(m.room_id, m.stream_ordering, visible);
      } else if (m.stream_ordering > lo) {
        if (auto ev = req.ctx->events->get_event(m.event_id))
          candidates.push_back({m.stream_ordering, room_entry(req, m.room_id), std::move(ev->json)});
      }
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const room_candidate& a, const room_candidate& b) { return a.position < b.position; });
  if (static_cast<int64_t>(candidates.size()) > limit) {
    for (auto i = candidates.begin() + limit; i != candidates.end(); ++i)
      cut.emplace_back(i->writer_entry, i->position);
    candidates.resize(static_cast<size_t>(limit));
  }
  for (auto& [entry, first_unread] : cut) {
    page.end[entry] = std::min(page.end[entry], first_unread - 1);
    page.end[0] = std::min(page.end[0], first_unread - 1); // the lowest writer's
  }
  // Never behind the client's token (what lies below it, it has seen).
  for (size_t s = 0; s < page.end.size() && s < from.size(); ++s) page.end[s] = std::max(page.end[s], from[s]);
  auto now = now_ms(req);
  for (auto& c : candidates) page.chunk.push_back(client_event(c.event, &req.auth(), now));
  if (peek_room) return page;

  // The other streams, from the sections /sync builds.
  matrix::sync_filter filter;
  sync_context c{req, filter, from, pos, false, joined, {}, {}, {}, {}, {}};
  json out = json::object();
  add_typing(c, out);
  add_receipts(c, out);
  add_presence(c, out);
  add_account_data(c, out);
  ephemeral_into(out, page.chunk);
  for (auto& ev : presence_events(out.value("presence", json::object()))) page.chunk.push_back(ev);
  for (auto ev : out.value("account_data", json::object()).value("events", json::array()))
    page.chunk.push_back(std::move(ev));
  const json join = out.value("rooms", json::object()).value("join", json::object());
  for (auto& [room_id, room] : join.items())
    for (auto ev : room.value("account_data", json::object()).value("events", json::array())) {
      ev["room_id"] = room_id;
      page.chunk.push_back(std::move(ev));
    }
  return page;
}

/// Where a GET /events stands between its waits.
struct stream_wait {
  std::vector<int64_t> start, pos;
  int64_t limit = 0;
  std::optional<std::string> peek_room, only_room;
  std::chrono::steady_clock::time_point deadline;
};

response events_step(request& req, stream_wait st) {
  auto page = event_stream(req, st.start, st.pos, st.limit, st.peek_room);
  if (st.only_room) {
    json kept = json::array();
    for (auto& ev : page.chunk)
      if (!ev.contains("room_id") || ev["room_id"] == *st.only_room) kept.push_back(ev);
    page.chunk = std::move(kept);
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                st.deadline - std::chrono::steady_clock::now()).count();
  json answer = {{"chunk", page.chunk}, {"start", token_string(req, st.start)},
                 {"end", token_string(req, page.end)}};
  if (!page.chunk.empty() || left <= 0) return {200, answer};
  // Nothing for the client yet: park on the notifier (no thread waits); what
  // wakes it may concern streams this API does not show, then wait again.
  auto since = st.pos;
  std::string waiter = st.peek_room ? "" : req.auth().user_id; // before st moves
  return http::wait_then(std::move(waiter), since, std::move(page.wait_rooms), left,
                         [&req, st = std::move(st), since, answer = std::move(answer)](
                           std::vector<int64_t> woke) mutable -> response {
                           if (woke == since) return {200, answer};
                           st.pos = std::move(woke);
                           return events_step(req, std::move(st));
                         });
}

response events(request& req) {
  auto& me = req.auth().user_id;
  stream_wait st;
  st.limit = limit_param(req, default_stream_limit);
  int64_t timeout = default_timeout_ms;
  if (req.query_param("timeout")) {
    auto t = int_param(req, "timeout");
    if (!t || *t < 0) fail(errc::invalid_param, "timeout must be in milliseconds.");
    timeout = *t;
  }
  if (timeout > 0) timeout = std::clamp(timeout, min_timeout_ms, max_timeout_ms);
  if (auto room = req.query_param("room_id")) {
    require_room_id(*room);
    if (membership_of(req, me, *room) != "join") {
      if (!world_readable_now(req, *room)) fail(errc::forbidden, "User " + me + " not in room " + *room);
      st.peek_room = *room;
    } else {
      // An explicit room_id the user is in narrows the stream to that room.
      st.only_room = *room;
    }
  }
  std::optional<std::vector<int64_t>> from;
  if (auto f = req.query_param("from"); f && *f != "END") {
    auto t = matrix::parse_stream_token(*f);
    if (!t) fail(errc::invalid_param, "'from' parameter is invalid");
    from = token_positions(req, *t);
  }
  if (!st.peek_room) presence_on_sync(req, timeout);
  st.pos = sync_positions(req, from);
  st.start = from ? *from : st.pos;
  st.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  return events_step(req, std::move(st));
}

// ---- GET /initialSync -------------------------------------------------------------------------

response initial_sync(request& req) {
  auto limit = limit_param(req, default_room_limit);
  bool archived = req.query_param("archived").value_or("") == "true";
  auto pos = sync_positions(req, std::nullopt);
  std::set<std::string> wanted{"join", "invite"};
  if (archived) wanted.insert({"leave", "ban"});
  auto memberships = memberships_at(req, pos, wanted);
  auto account = account_data_of(req, pos[index(stream_id::account_data)]);
  std::vector<std::string> joined;
  for (auto& m : memberships)
    if (m.membership == "join") joined.push_back(m.room_id);
  std::set<std::string> published;
  for (auto& r : req.ctx->rooms->public_rooms()) published.insert(r.room_id);
  json rooms = json::array();
  for (auto& m : memberships) {
    json d = {{"room_id", m.room_id},
              {"membership", m.membership},
              {"visibility", published.count(m.room_id) ? "public" : "private"}};
    if (m.membership == "invite") {
      if (auto ev = req.ctx->events->get_event(m.event_id)) {
        d["inviter"] = ev->json.value("sender", "");
        d["invite"] = client_event(ev->json, &req.auth(), now_ms(req));
      }
    } else {
      bool in = m.membership == "join";
      auto upto = in ? room_position(req, pos, m.room_id) : m.stream_ordering;
      history_filter visible(req, m.room_id, upto, false, in ? m.stream_ordering : INT64_MAX);
      auto page = recent_events(req, m.room_id, upto, limit, visible);
      auto end = in ? pos : ending_at(req, pos, m.room_id, m.stream_ordering);
      d["messages"] = {{"chunk", page.chunk},
                       {"start", matrix::stream_token{page.start, {}, {}}.to_string()},
                       {"end", token_string(req, end)}};
      d["state"] = client_events(req, in ? req.ctx->rooms->current_state(m.room_id)
                                         : req.ctx->events->state_at(m.room_id, m.stream_ordering));
      auto a = account.rooms.find(m.room_id);
      d["account_data"] = a == account.rooms.end() ? json::array() : a->second;
    }
    rooms.push_back(std::move(d));
  }
  // Presence of everyone sharing a room and the joined rooms' receipts, as
  // an initial /sync has them.
  matrix::sync_filter filter;
  sync_context c{req, filter, std::nullopt, pos, false, joined, joined, {}, {}, {}, {}};
  json out = json::object();
  add_receipts(c, out);
  add_presence(c, out);
  json receipts = json::array();
  ephemeral_into(out, receipts, "m.receipt");
  return {200,
          {{"rooms", rooms},
           {"presence", presence_events(out.value("presence", json::object()))},
           {"account_data", account.global},
           {"receipts", receipts},
           {"end", token_string(req, pos)}}};
}

// ---- GET /rooms/{roomId}/initialSync ----------------------------------------------------------

response room_initial_sync(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto limit = limit_param(req, default_room_limit);
  auto pos = sync_positions(req, std::nullopt);
  auto now_pos = room_position(req, pos, room_id);
  // Synapse's check_user_in_room_or_world_readable (departed users allowed):
  // a member reads the room now, a departed user as it was at their leave,
  // anyone else a world_readable room as a peeker.
  auto who = reader_of(req, room_id);
  bool peeking = require_reader(req, room_id, who);
  auto upto = who.until(now_pos);
  history_filter visible(req, room_id, who, upto, peeking);
  auto page = recent_events(req, room_id, upto, limit, visible);
  json out = {{"room_id", room_id}};
  auto end = who.departed ? ending_at(req, pos, room_id, who.left_at) : pos;
  out["messages"] = {{"chunk", page.chunk},
                     {"start", matrix::stream_token{page.start, {}, {}}.to_string()},
                     {"end", token_string(req, end)}};
  if (who.departed) {
    out["state"] = client_events(req, req.ctx->events->state_at(room_id, who.left_at));
    out["presence"] = json::array();
    out["receipts"] = json::array();
  } else {
    out["state"] = client_events(req, req.ctx->rooms->current_state(room_id));
    std::vector<std::string> rooms{room_id};
    matrix::sync_filter filter;
    sync_context c{req, filter, std::nullopt, pos, false, rooms, rooms, {}, {}, {}, {}};
    json sections = json::object();
    add_receipts(c, sections);
    json receipts = json::array();
    ephemeral_into(sections, receipts, "m.receipt");
    // Presence of the joined members (Synapse's _room_initial_sync_joined).
    std::set<std::string> members;
    for (auto& ev : req.ctx->rooms->current_members(room_id))
      if (ev["content"].value("membership", "") == "join") members.insert(ev.value("state_key", ""));
    add_presence(c, sections);
    json presence = json::array();
    for (auto& ev : presence_events(sections.value("presence", json::object())))
      if (members.count(ev.value("sender", ""))) presence.push_back(ev);
    out["presence"] = presence;
    out["receipts"] = receipts;
  }
  if (!peeking) out["membership"] = who.membership;
  auto account = account_data_of(req, pos[index(stream_id::account_data)]);
  auto a = account.rooms.find(room_id);
  out["account_data"] = a == account.rooms.end() ? json::array() : a->second;
  return {200, out};
}

// ---- GET /events/{eventId} --------------------------------------------------------------------

/// The legacy form of GET /rooms/{roomId}/event/{eventId}: the room is the
/// event's own; the same visibility (not found when hidden).
response legacy_event(request& req) {
  auto ev = req.ctx->events->get_event(req.params[0]);
  if (!ev) fail(errc::not_found, "Event not found.");
  if (!may_see_event(req, ev->json.value("room_id", ""), ev->json, ev->stream_ordering))
    fail(errc::not_found, "Event not found.");
  return {200, client_event(ev->json, &req.auth(), now_ms(req))};
}

} // namespace

void add_legacy_sync_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/events", true, "client", events, "sync"});
  out.push_back({"GET", c, "/events/{eventId}", true, "client", legacy_event});
  out.push_back({"GET", c, "/initialSync", true, "client", initial_sync, "initial_sync"});
  out.push_back({"GET", c, "/rooms/{roomId}/initialSync", true, "client", room_initial_sync, "initial_sync"});
}

} // namespace axon::client
