#include "matrix/visibility.hpp"

#include <algorithm>

namespace axon::matrix {

using nlohmann::json;

namespace {

/// Synapse's MEMBERSHIP_PRIORITY: join is "the most joined".
int membership_rank(const std::string& m) {
  static const char* const order[] = {"join", "invite", "knock", "leave", "ban"};
  for (int i = 0; i < 5; ++i)
    if (m == order[i]) return i;
  return 3; // anything else counts as leave
}

std::string string_at(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto i = obj.find(key);
  return i != obj.end() && i->is_string() ? i->get<std::string>() : "";
}

const json& prev_content_of(const json& event) {
  static const json empty = json::object();
  auto u = event.find("unsigned");
  if (u == event.end() || !u->is_object()) return empty;
  auto p = u->find("prev_content");
  return p != u->end() && p->is_object() ? *p : empty;
}

/// The newest change at or before `position`, or nullptr.
const visibility_change* at(const std::vector<visibility_change>& v, int64_t position) {
  auto i = std::upper_bound(v.begin(), v.end(), position,
                            [](int64_t p, const visibility_change& c) { return p < c.position; });
  return i == v.begin() ? nullptr : &*(i - 1);
}

} // namespace

history_visibility parse_history_visibility(const json& content) {
  auto v = string_at(content, "history_visibility");
  if (v == "world_readable") return history_visibility::world_readable;
  if (v == "invited") return history_visibility::invited;
  if (v == "joined") return history_visibility::joined;
  return history_visibility::shared;
}

bool event_visible(const json& event, const std::string& user_id, history_visibility visibility,
                   const std::string& membership_after, bool peeking) {
  auto type = string_at(event, "type");
  // A history visibility change is seen under the less restrictive of the
  // old and new values, so users see the boundary itself.
  if (type == "m.room.history_visibility" && event.contains("state_key")) {
    auto prev = parse_history_visibility(prev_content_of(event));
    if (prev < visibility) visibility = prev;
  }
  if (visibility == history_visibility::world_readable) return true;
  if (visibility == history_visibility::shared && !peeking) return true;

  std::string membership = membership_after;
  if (type == "m.room.member" && string_at(event, "state_key") == user_id &&
      event.contains("state_key")) {
    // The user's own membership event: the "most joined" of before and
    // after, and their own leave after a join or an invite is always shown
    // (or they would not see the room go when they reject an invite).
    auto now = string_at(event.value("content", json::object()), "membership");
    auto before = string_at(prev_content_of(event), "membership");
    if (membership_rank(now) == 3 && (before == "join" || before == "invite")) return true;
    membership = membership_rank(before) < membership_rank(now) ? before : now;
    if (membership_rank(membership) == 3) membership = "leave";
  }
  if (membership == "join") return true;
  switch (visibility) {
  case history_visibility::joined:
    return false;
  case history_visibility::invited:
    return membership == "invite";
  case history_visibility::shared:
    return false; // peeking: only members see shared history
  case history_visibility::world_readable:
    return true;
  }
  return false;
}

room_visibility::room_visibility(std::string user_id, std::vector<visibility_change> changes,
                                 bool peeking)
  : user_id_(std::move(user_id)), peeking_(peeking) {
  for (auto& c : changes) (c.is_visibility ? vis_ : members_).push_back(std::move(c));
}

history_visibility room_visibility::visibility_at(int64_t position) const {
  auto c = at(vis_, position);
  return c ? c->visibility : history_visibility::shared;
}

std::string room_visibility::membership_at(int64_t position) const {
  auto c = at(members_, position);
  return c ? c->membership : "";
}

bool room_visibility::allows(const json& event, int64_t position) const {
  return event_visible(event, user_id_, visibility_at(position), membership_at(position), peeking_);
}

bool room_visibility::allows_state_at(int64_t position, bool joined_now) const {
  auto membership = membership_at(position);
  if (membership == "join") return true;
  switch (visibility_at(position)) {
  case history_visibility::joined:
    return false;
  case history_visibility::invited:
    return membership == "invite";
  case history_visibility::world_readable:
    return true;
  case history_visibility::shared:
    // Synapse: an invite at that point is enough too, and otherwise only
    // a user who has joined since may see it.
    return membership == "invite" || joined_now;
  }
  return false;
}

} // namespace axon::matrix
