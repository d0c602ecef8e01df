// actors/client/notification_handlers.cpp -- unread notification counts in
// /sync and GET /notifications. Spec: client-server API "Push Notifications"
// > "Receiving notifications" (unread_notifications,
// unread_thread_notifications) and "Listing notifications". The counts come
// from the push actions the events writer stores with each event.
#include "actors/client/common.hpp"
#include "actors/client/history.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_streams.hpp"
#include "storage/stores/push_actions_store.hpp"
#include "transport/transport.hpp"

#include <map>
#include <memory>

namespace axon::client {

using http::fail;

namespace {

constexpr int64_t default_notifications_limit = 50;
constexpr int64_t max_notifications_limit = 1000;

json counts(const storage::unread_count& u) {
  return {{"notification_count", u.notifications}, {"highlight_count", u.highlights}};
}

response get_notifications(request& req) {
  auto& me = req.auth().user_id;
  int64_t before = 0;
  if (auto from = req.query_param("from"); from && !from->empty()) {
    try {
      size_t used = 0;
      before = std::stoll(*from, &used);
      if (used != from->size() || before <= 0) throw std::invalid_argument("from");
    } catch (const std::exception&) {
      fail(errc::invalid_param, "Invalid from token");
    }
  }
  auto limit = std::clamp<int64_t>(int_param(req, "limit").value_or(default_notifications_limit),
                                   1, max_notifications_limit);
  bool only_highlight = false;
  if (auto only = req.query_param("only")) only_highlight = *only == "highlight";
  auto ignored = ignored_users(req, me);
  auto now = now_ms(req);
  std::map<std::pair<std::string, std::string>, int64_t> read; // (room, thread) -> position
  json list = json::array();
  auto rows = req.ctx->push_actions->notifications(me, before, static_cast<size_t>(limit),
                                                   only_highlight);
  // History visibility applies here too (a notification is an event): one
  // filter per room, which reads the user's view only for events before
  // their current join.
  auto positions = req.ctx->transport->positions();
  std::map<std::string, std::unique_ptr<history_filter>> visible;
  for (auto& n : rows) {
    auto ev = json::parse(n.event_json, nullptr, false);
    if (!ev.is_object() || ignored.count(ev.value("sender", ""))) continue;
    auto& filter = visible[n.room_id];
    if (!filter) {
      auto who = reader_of(req, n.room_id);
      filter = std::make_unique<history_filter>(req, n.room_id, who,
                                                who.until(room_position(req, positions, n.room_id)), false);
    }
    if (!filter->allows(ev, n.stream_ordering)) continue;
    auto key = std::make_pair(n.room_id, n.thread_id);
    auto r = read.find(key);
    if (r == read.end())
      r = read.emplace(key, req.ctx->push_actions->read_up_to(me, n.room_id, n.thread_id)).first;
    json item = {{"actions", json::parse(n.actions, nullptr, false)},
                 {"event", client_event(ev, &req.auth(), now)},
                 {"read", n.stream_ordering <= r->second},
                 {"room_id", n.room_id},
                 {"ts", n.ts}};
    list.push_back(std::move(item));
  }
  json out = {{"notifications", list}};
  // A full page may have more behind it.
  if (!rows.empty() && rows.size() == static_cast<size_t>(limit))
    out["next_token"] = std::to_string(rows.back().stream_ordering);
  return {200, out};
}

} // namespace

void add_unread_counts(const sync_context& c, json& out) {
  auto rooms = out.find("rooms");
  if (rooms == out.end()) return;
  auto join = rooms->find("join");
  if (join == rooms->end() || !join->is_object()) return;
  bool by_thread = c.filter.room.timeline.unread_thread_notifications;
  for (auto& [room_id, entry] : join->items()) {
    auto to = room_position(c.req, c.pos, room_id);
    auto read = c.unread_rows.find(room_id);
    auto unread = read != c.unread_rows.end()
                    ? c.req.ctx->push_actions->unread_from(read->second, c.user_id(), room_id, to)
                    : c.req.ctx->push_actions->unread(c.user_id(), room_id, to);
    storage::unread_count total;
    json threads = json::object();
    for (auto& [thread, u] : unread) {
      if (by_thread && thread != "main") {
        threads[thread] = counts(u);
        continue;
      }
      total.notifications += u.notifications;
      total.highlights += u.highlights;
    }
    entry["unread_notifications"] = counts(total);
    if (by_thread) entry["unread_thread_notifications"] = threads;
  }
}

void add_notification_routes(std::vector<http::route>& out) {
  const char* c = "/_matrix/client/{v}";
  out.push_back({"GET", c, "/notifications", true, "client", get_notifications});
}

} // namespace axon::client
