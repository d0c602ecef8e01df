#include "actors/client/history.hpp"

#include "storage/stores/events_store.hpp"
#include "storage/stores/rooms_store.hpp"

namespace axon::client {

matrix::room_visibility history_view(request& req, const std::string& room_id, int64_t upto,
                                     bool peeking) {
  std::vector<matrix::visibility_change> changes;
  for (auto& r : req.ctx->events->visibility_history(room_id, req.auth().user_id, upto)) {
    matrix::visibility_change c;
    c.position = r.stream_ordering;
    c.is_visibility = r.is_visibility;
    if (r.is_visibility) c.visibility = matrix::parse_history_visibility(r.content);
    else c.membership = std::move(r.membership);
    changes.push_back(std::move(c));
  }
  return matrix::room_visibility(req.auth().user_id, std::move(changes), peeking);
}

bool world_readable_now(request& req, const std::string& room_id) {
  auto ev = req.ctx->rooms->current_state_event(room_id, "m.room.history_visibility", "");
  return ev && matrix::parse_history_visibility(ev->value("content", json::object())) ==
                 matrix::history_visibility::world_readable;
}

room_reader reader_of(request& req, const std::string& room_id) {
  room_reader r;
  auto m = req.ctx->rooms->membership(req.auth().user_id, room_id);
  if (!m) return r;
  if (m->membership == "join") {
    r.joined = true;
    r.joined_since = m->stream_ordering;
  } else if (m->membership == "leave" || m->membership == "ban") {
    r.departed = true;
    r.left_at = m->stream_ordering;
  } else {
    return r;
  }
  r.membership = m->membership;
  return r;
}

bool require_reader(request& req, const std::string& room_id, const room_reader& r) {
  if (r.joined || r.departed) return false;
  if (world_readable_now(req, room_id)) return true;
  http::fail(errc::forbidden, "User " + req.auth().user_id + " not in room " + room_id);
}

bool may_see_event(request& req, const std::string& room_id, const json& event, int64_t position) {
  auto who = reader_of(req, room_id);
  return history_filter(req, room_id, who, position, !who.joined).allows(event, position);
}

bool history_filter::allows(const json& event, int64_t position) {
  if (position >= always_from_) return true;
  // History fetched from other servers has no place in the stream: only
  // its state group says what the state was.
  if (position < 0) return allows_by_group(event, false);
  if (!view_) view_ = history_view(req_, room_id_, upto_, peeking_);
  if (!view_->allows(event, position)) return false;
  // In a room whose history forked (other servers' events), the stream's
  // order is not the DAG's: the newest history_visibility stored before an
  // event may have lost a resolution. The event's state group holds the
  // state after it as resolved; both must allow it.
  return allows_by_group(event, true);
}

} // namespace axon::client

namespace axon::client {

bool history_filter::allows_by_group(const json& event, bool if_none) {
  auto& store = *req_.ctx->events;
  auto id = event.value("event_id", "");
  auto found = store.dag_events({id});
  auto i = found.find(id);
  // Without its state nothing more is known (backfilled: nothing says it
  // may be seen).
  if (i == found.end() || !i->second.state_group) return if_none;
  auto g = groups_.find(i->second.state_group);
  if (g == groups_.end()) {
    auto& user = req_.auth().user_id;
    auto ids = store.group_state(i->second.state_group, {{"m.room.history_visibility", ""}, {"m.room.member", user}});
    auto visibility = matrix::history_visibility::shared;
    std::string membership;
    std::vector<std::string> want;
    for (auto& [k, eid] : ids) want.push_back(eid);
    for (auto& [eid, e] : store.dag_events(want)) {
      auto content = e.json.value("content", json::object());
      if (e.json.value("type", "") == "m.room.history_visibility") visibility = matrix::parse_history_visibility(content);
      else membership = content.is_object() ? content.value("membership", "") : "";
    }
    g = groups_.emplace(i->second.state_group, std::make_pair(visibility, membership)).first;
  }
  return matrix::event_visible(event, req_.auth().user_id, g->second.first, g->second.second, peeking_);
}

} // namespace axon::client
