// actors/client/ephemeral_handlers.cpp -- typing notifications, receipts and
// read markers, and their part of /sync. Spec: client-server API "Typing
// Notifications", "Receipts", "Fully read markers".
#include "actors/client/common.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "actors/federation/room_edus.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/receipts_store.hpp"
#include "transport/transport.hpp"

#include <map>
#include <set>

namespace axon::client {

using http::fail;

namespace {

// ---- constants -------------------------------------------------------------------

/// Synapse's default and cap for typing timeouts.
constexpr int64_t default_typing_timeout_ms = 30000;
constexpr int64_t max_typing_timeout_ms = 120000;

// ---- helpers -----------------------------------------------------------------------

/// M_NOT_FOUND unless `event_id` is an event of `room_id`.
void require_event_in_room(request& req, const std::string& room_id, const std::string& event_id) {
  auto ev = req.ctx->events->get_event(event_id);
  if (!ev || ev->json.value("room_id", "") != room_id)
    fail(errc::not_found, "Event " + event_id + " not found in room " + room_id);
}

/// A receipt's thread: "" (unthreaded), "main" or a thread root event id.
std::string thread_of(const json& body) {
  auto i = body.find("thread_id");
  if (i == body.end() || i->is_null()) return "";
  if (!i->is_string() || i->get<std::string>().empty())
    fail(errc::invalid_param, "thread_id must be a non-empty string");
  auto t = i->get<std::string>();
  if (t != "main" && t[0] != '$') fail(errc::invalid_param, "thread_id must be 'main' or an event ID");
  return t;
}

void put_receipt(request& req, const std::string& room_id, const std::string& type,
                 const std::string& event_id, const std::string& thread_id) {
  auto ts = now_ms(req);
  req.ctx->transport->put_receipt({room_id, type, req.auth().user_id, event_id, thread_id, json{{"ts", ts}}.dump()});
  // The room's other servers hear of public receipts.
  if (type == "m.read") {
    json data = {{"ts", ts}};
    if (!thread_id.empty()) data["thread_id"] = thread_id;
    federation::send_room_edu(*req.ctx, room_id, "m.receipt",
                              {{room_id, {{"m.read", {{req.auth().user_id, {{"event_ids", {event_id}}, {"data", data}}}}}}}});
  }
}

void put_fully_read(request& req, const std::string& room_id, const std::string& event_id) {
  req.ctx->transport->put_account_data(
    {req.auth().user_id, room_id, "m.fully_read", json{{"event_id", event_id}}.dump()});
}

// ---- handlers ------------------------------------------------------------------------

response put_typing(request& req) {
  auto& room_id = req.params[0];
  auto& user_id = req.params[1];
  require_room_id(room_id);
  if (user_id != req.auth().user_id) fail(errc::forbidden, "Cannot set another user's typing state");
  auto& body = req.json_body();
  auto t = body.find("typing");
  if (t == body.end()) fail(errc::missing_param, "Missing typing");
  if (!t->is_boolean()) fail(errc::bad_json, "typing must be a boolean");
  int64_t timeout = default_typing_timeout_ms;
  if (auto i = body.find("timeout"); i != body.end() && !i->is_null()) {
    if (!i->is_number_integer() && !i->is_number_unsigned())
      fail(errc::bad_json, "timeout must be an integer");
    if (i->is_number_unsigned() || i->get<int64_t>() >= 0)
      timeout = i->is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(
                                            i->get<uint64_t>(), max_typing_timeout_ms))
                                        : i->get<int64_t>();
    else fail(errc::bad_json, "timeout must not be negative");
  }
  timeout = std::min(timeout, max_typing_timeout_ms);
  require_joined(req, room_id);
  req.ctx->transport->set_typing({room_id, user_id, t->get<bool>(), timeout});
  federation::send_room_edu(*req.ctx, room_id, "m.typing",
                            {{"room_id", room_id}, {"user_id", user_id}, {"typing", t->get<bool>()}});
  return {200, json::object()};
}

response post_receipt(request& req) {
  auto& room_id = req.params[0];
  auto& type = req.params[1];
  auto& event_id = req.params[2];
  require_room_id(room_id);
  if (type != "m.read" && type != "m.read.private" && type != "m.fully_read")
    fail(errc::invalid_param, "Receipt type must be m.read, m.read.private or m.fully_read");
  auto thread = thread_of(req.json_body());
  require_joined(req, room_id);
  require_event_in_room(req, room_id, event_id);
  if (type == "m.fully_read") put_fully_read(req, room_id, event_id); // never threaded
  else put_receipt(req, room_id, type, event_id, thread);
  return {200, json::object()};
}

response post_read_markers(request& req) {
  auto& room_id = req.params[0];
  require_room_id(room_id);
  auto& body = req.json_body();
  std::map<std::string, std::string> markers; // type -> event id
  for (auto* type : {"m.fully_read", "m.read", "m.read.private"})
    if (auto v = optional_string(body, type)) markers[type] = *v;
  require_joined(req, room_id);
  for (auto& [type, ev] : markers) require_event_in_room(req, room_id, ev);
  for (auto& [type, ev] : markers) {
    if (type == "m.fully_read") put_fully_read(req, room_id, ev);
    else put_receipt(req, room_id, type, ev, "");
  }
  return {200, json::object()};
}

/// The room's ephemeral section, created when absent.
json& ephemeral_events(json& out, const std::string& room_id, const sync_context& c) {
  auto& entry = joined_entry(out, room_id, c);
  auto& eph = entry["ephemeral"];
  if (!eph.is_object() || !eph.contains("events")) eph = {{"events", json::array()}};
  return eph["events"];
}

bool ephemeral_wanted(const sync_context& c, const std::string& room_id, const json& ev) {
  auto& f = c.filter.room.ephemeral;
  return c.filter.room.match_room(room_id) && f.match_room(room_id) && f.event_filter::match(ev);
}

} // namespace

// ---- /sync -------------------------------------------------------------------------------

bool add_typing(const sync_context& c, json& out) {
  if (c.joined_rooms.empty()) return false;
  auto since = c.since_of(stream_id::typing);
  std::vector<msg::typing_room> rooms;
  try {
    if (!c.since || since != c.pos_of(stream_id::typing)) {
      // The writer answers "everything current" for 0 and for a position
      // ahead of its own (it restarted since the client's token).
      rooms = c.req.ctx->transport->get_typing({c.joined_rooms, since}).rooms;
    }
    if (c.since && !c.full_rooms.empty()) {
      std::set<std::string> have;
      for (auto& r : rooms) have.insert(r.room_id);
      for (auto& r : c.req.ctx->transport->get_typing({c.full_rooms, 0}).rooms)
        if (!have.count(r.room_id)) rooms.push_back(std::move(r));
    }
  } catch (const matrix_error&) {
    return false; // typing is best effort: an unreachable writer costs no /sync
  }
  std::set<std::string> joined(c.joined_rooms.begin(), c.joined_rooms.end());
  bool news = false;
  for (auto& r : rooms) {
    if (!joined.count(r.room_id)) continue;
    json ev = {{"type", "m.typing"}, {"content", {{"user_ids", r.user_ids}}}};
    if (!ephemeral_wanted(c, r.room_id, ev)) continue;
    ephemeral_events(out, r.room_id, c).push_back(std::move(ev));
    news = true;
  }
  return news;
}

bool add_receipts(const sync_context& c, json& out) {
  auto* store = c.req.ctx->receipts;
  auto to = c.pos_of(stream_id::receipts);
  std::set<std::string> joined(c.joined_rooms.begin(), c.joined_rooms.end());
  std::set<std::string> full(c.full_rooms.begin(), c.full_rooms.end());
  std::vector<storage::receipt_row> rows;
  // Rooms sent in full get every receipt; the others what changed.
  for (auto& room : full)
    if (joined.count(room))
      for (auto& r : store->room_receipts(room, to)) rows.push_back(std::move(r));
  if (c.since && c.moved(stream_id::receipts))
    for (auto& r : store->changed(c.since_of(stream_id::receipts), to))
      if (joined.count(r.room_id) && !full.count(r.room_id)) rows.push_back(std::move(r));
  std::map<std::string, json> content; // room id -> m.receipt content
  for (auto& r : rows) {
    if (r.receipt_type == "m.read.private" && r.user_id != c.user_id()) continue;
    auto data = json::parse(r.data, nullptr, false);
    if (!data.is_object()) data = json::object();
    if (!r.thread_id.empty()) data["thread_id"] = r.thread_id;
    auto& room = content[r.room_id];
    if (room.is_null()) room = json::object();
    room[r.event_id][r.receipt_type][r.user_id] = std::move(data);
  }
  bool news = false;
  for (auto& [room_id, body] : content) {
    json ev = {{"type", "m.receipt"}, {"content", body}};
    if (!ephemeral_wanted(c, room_id, ev)) continue;
    ephemeral_events(out, room_id, c).push_back(std::move(ev));
    news = true;
  }
  return news;
}

void add_ephemeral_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"PUT", c, "/rooms/{roomId}/typing/{userId}", true, "client", put_typing, "typing"});
  out.push_back(
    {"POST", c, "/rooms/{roomId}/receipt/{receiptType}/{eventId}", true, "client", post_receipt, "receipts"});
  out.push_back({"POST", c, "/rooms/{roomId}/read_markers", true, "client", post_read_markers, "receipts"});
}

} // namespace axon::client
