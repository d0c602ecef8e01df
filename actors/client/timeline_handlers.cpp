// actors/client/timeline_handlers.cpp -- /messages and /context.
// Spec: client-server API "Syncing" > "Getting events for a room".
#include "actors/client/common.hpp"
#include "actors/client/history.hpp"
#include "actors/federation/backfill.hpp"
#include "actors/client/routes.hpp"
#include "matrix/filter.hpp"
#include "matrix/stream_token.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <charconv>
#include <set>

namespace axon::client {

using http::fail;

namespace {

constexpr int64_t default_limit = 10;
constexpr int64_t max_limit = 1000;

/// Pagination tokens: "s..." stream tokens (as /sync gives), and "b<n>"
/// for position -n, in history fetched from other servers (those positions
/// are below every stream position and never in a stream token).
std::string position_token(int64_t pos) {
  return pos < 0 ? "b" + std::to_string(-pos) : matrix::stream_token{pos, {}, {}}.to_string();
}

/// Where a token stands in room `room_id` (its events writer's position).
int64_t parse_token(const request& req, const std::string& room_id, const std::string& text,
                    const char* what) {
  if (!text.empty() && text[0] == 'b') {
    int64_t n = 0;
    auto* end = text.data() + text.size();
    auto [at, ec] = std::from_chars(text.data() + 1, end, n);
    if (ec != std::errc() || at != end || n <= 0 || text.size() < 2 || text[1] < '0' || text[1] > '9')
      fail(errc::invalid_param, std::string("Invalid ") + what + " token");
    return -n;
  }
  auto t = matrix::parse_stream_token(text);
  if (!t) fail(errc::invalid_param, std::string("Invalid ") + what + " token");
  return room_position(req, token_positions(req, *t), room_id);
}

std::optional<matrix::room_event_filter> parse_filter_param(request& req) {
  auto f = req.query_param("filter");
  if (!f) return std::nullopt;
  auto j = json::parse(*f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(errc::not_json, "filter must be a JSON object");
  std::string why;
  auto out = matrix::parse_room_event_filter(j, &why);
  if (!out) fail(errc::bad_json, "Invalid filter: " + why);
  return out;
}

/// Events a page may skip over (hidden by history visibility or the
/// filter) before it ends early with an `end` token to continue from.
constexpr size_t max_skipped = 1000;

/// The room's state at timeline position `pos`: from the stream in this
/// server's own timeline; in backfilled history (negative positions) the
/// state after `anchor_id`, an event there, from its state group.
std::vector<json> state_at_position(request& req, const std::string& room_id, int64_t pos,
                                    const std::string& anchor_id) {
  if (pos >= 0) return req.ctx->events->state_at(room_id, pos);
  std::vector<json> out;
  auto ids = req.ctx->events->state_after(anchor_id);
  if (!ids) return out;
  std::vector<std::string> want;
  for (auto& [k, id] : *ids) want.push_back(id);
  for (auto& [id, e] : req.ctx->events->dag_events(want))
    if (e.json.is_object()) out.push_back(e.json);
  return out;
}

/// Member events for the senders of `events` as of position `pos` (see
/// state_at_position).
json member_state_for(request& req, const std::string& room_id, const json& events, int64_t pos,
                      const std::string& anchor_id) {
  std::set<std::string> senders;
  for (auto& e : events) senders.insert(e.value("sender", ""));
  json out = json::array();
  auto now = now_ms(req);
  for (auto& ev : state_at_position(req, room_id, pos, anchor_id))
    if (ev.value("type", "") == "m.room.member" && senders.count(ev.value("state_key", "")))
      out.push_back(client_event(ev, &req.auth(), now));
  return out;
}

response messages(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto dir = req.query_param("dir");
  if (!dir || (*dir != "b" && *dir != "f")) fail(errc::invalid_param, "dir must be b or f");
  bool back = *dir == "b";
  auto limit = std::min(int_param(req, "limit").value_or(default_limit), max_limit);
  auto filter = parse_filter_param(req);
  if (filter && filter->limit >= 0) limit = std::min<int64_t>(limit, filter->limit);
  // Whatever was acknowledged anywhere before this request is in it (as
  // for /sync): a client that sent through one instance pages through
  // another.
  req.ctx->transport->read_barrier();
  auto now_pos = room_position(req, req.ctx->transport->positions(), room_id);
  auto who = reader_of(req, room_id);
  bool peeking = require_reader(req, room_id, who);
  auto until = who.until(now_pos);
  history_filter visible(req, room_id, who, until, peeking);
  int64_t from = back ? now_pos : 0;
  if (auto f = req.query_param("from")) from = parse_token(req, room_id, *f, "from");
  std::optional<int64_t> to;
  if (auto t = req.query_param("to")) to = parse_token(req, room_id, *t, "to");

  // Backwards: (to, min(from, until)] newest first. Forwards: (from, min(to, until)].
  int64_t lo = back ? to.value_or(INT64_MIN) : from;
  int64_t hi = back ? std::min(from, until) : std::min(to.value_or(INT64_MAX), until);
  const int64_t first = back ? hi : lo;
  json chunk = json::array();
  bool more = false;
  auto now = now_ms(req);
  auto fetch = static_cast<size_t>(filter ? limit * 2 + 8 : limit + 1);
  size_t skipped = 0;
  // Paging back past the start of what this server has: once per request,
  // the room's other servers are asked for older events (Synapse's
  // maybe_backfill), which then continue the page.
  bool backfilled = false;
  while (lo < hi) {
    if (static_cast<int64_t>(chunk.size()) >= limit || skipped > max_skipped) {
      more = true; // the range isn't exhausted: there may be more
      break;
    }
    auto rows = req.ctx->events->room_events(room_id, lo, hi, fetch, back);
    size_t used = 0;
    for (auto& r : rows) {
      if (static_cast<int64_t>(chunk.size()) >= limit || skipped > max_skipped) break;
      ++used;
      if (back) hi = r.stream_ordering - 1;
      else lo = r.stream_ordering;
      if ((!filter || filter->match(r.json)) && visible.allows(r.json, r.stream_ordering))
        chunk.push_back(client_event(r.json, &req.auth(), now));
      else
        ++skipped;
    }
    if (used < rows.size()) {
      more = true;
      break;
    }
    if (rows.size() < fetch) {
      // The range is exhausted; going back without a `to`, older history
      // may be on other servers.
      if (back && !to) {
        // Once per request; after that the next page asks again.
        if (backfilled) {
          more = true;
          break;
        }
        backfilled = true;
        auto want = std::max<int64_t>(limit - static_cast<int64_t>(chunk.size()), 0) * 2 + 20;
        if (federation::backfill_room(*req.ctx, room_id, static_cast<size_t>(want)) > 0) continue;
      }
      break;
    }
  }
  json out = {{"chunk", chunk}};
  out["start"] = req.query_param("from") ? *req.query_param("from")
                                         : position_token(first);
  // `end` is omitted when nothing further is available in that direction.
  if (more) out["end"] = position_token(back ? hi : lo);
  if (filter && filter->lazy_load_members && !chunk.empty())
    out["state"] = member_state_for(req, room_id, chunk, back ? first : lo, chunk[0].value("event_id", ""));
  return {200, out};
}

response context(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto ev = req.ctx->events->get_event(req.params[1]);
  if (!ev || ev->json.value("room_id", "") != room_id) fail(errc::not_found, "Event not found.");
  req.ctx->transport->read_barrier(); // see messages()
  auto now_pos = room_position(req, req.ctx->transport->positions(), room_id);
  // Synapse's get_event_context: whoever is not joined now reads as a
  // peeker (a departed user sees what they saw while a member, a stranger
  // a world_readable room); an event they may not see is not found.
  auto who = reader_of(req, room_id);
  auto until = who.until(now_pos);
  history_filter visible(req, room_id, who, until, !who.joined);
  if (ev->stream_ordering > until || !visible.allows(ev->json, ev->stream_ordering))
    fail(errc::not_found, "Event not found.");
  auto limit = std::min(int_param(req, "limit").value_or(default_limit), max_limit);
  auto filter = parse_filter_param(req);
  auto half_before = limit / 2, half_after = limit - half_before;
  auto now = now_ms(req);
  json before = json::array(), after = json::array();
  int64_t start = ev->stream_ordering - 1, end = ev->stream_ordering;
  std::string end_id = req.params[1];
  for (auto& r : req.ctx->events->room_events(room_id, INT64_MIN, ev->stream_ordering - 1,
                                              static_cast<size_t>(half_before), true)) {
    start = r.stream_ordering - 1;
    if ((!filter || filter->match(r.json)) && visible.allows(r.json, r.stream_ordering))
      before.push_back(client_event(r.json, &req.auth(), now));
  }
  for (auto& r : req.ctx->events->room_events(room_id, ev->stream_ordering, until,
                                              static_cast<size_t>(half_after), false)) {
    end = r.stream_ordering;
    end_id = r.json.value("event_id", "");
    if ((!filter || filter->match(r.json)) && visible.allows(r.json, r.stream_ordering))
      after.push_back(client_event(r.json, &req.auth(), now));
  }
  json state = json::array();
  bool lazy = filter && filter->lazy_load_members;
  json all = before;
  all.push_back(ev->json);
  for (auto& a : after) all.push_back(a);
  if (lazy) {
    state = member_state_for(req, room_id, all, end, end_id);
  } else {
    for (auto& s : state_at_position(req, room_id, end, end_id))
      state.push_back(client_event(s, &req.auth(), now));
  }
  return {200,
          {{"event", client_event(ev->json, &req.auth(), now)},
           {"events_before", before},
           {"events_after", after},
           {"start", position_token(start)},
           {"end", position_token(end)},
           {"state", state}}};
}

} // namespace

void add_timeline_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/rooms/{roomId}/messages", true, "client", messages});
  out.push_back({"GET", c, "/rooms/{roomId}/context/{eventId}", true, "client", context});
}

} // namespace axon::client
