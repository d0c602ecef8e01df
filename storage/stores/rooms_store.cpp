#include "storage/stores/rooms_store.hpp"

namespace axon::storage {

using nlohmann::json;

std::optional<room_row> rooms_store::get_room(const std::string& room_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT room_id, room_version, creator, is_public FROM rooms WHERE room_id = $1",
                   {room_id});
  if (r.empty()) return std::nullopt;
  auto& row = r.rows[0];
  return room_row{row.str(0), row.str(1), row.str(2), row.i64(3) != 0};
}

void rooms_store::set_public(const std::string& room_id, bool is_public) {
  auto c = pool_.acquire();
  c->exec("UPDATE rooms SET is_public = $2 WHERE room_id = $1",
          {room_id, int64_t{is_public ? 1 : 0}});
}

std::vector<room_row> rooms_store::public_rooms() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT room_id, room_version, creator, is_public FROM rooms WHERE is_public = 1");
  std::vector<room_row> out;
  for (auto& row : r.rows) out.push_back({row.str(0), row.str(1), row.str(2), true});
  return out;
}

bool rooms_store::create_alias(const std::string& alias, const std::string& room_id,
                               const std::string& creator) {
  auto c = pool_.acquire();
  auto r = c->exec("INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3) ON "
                   "CONFLICT (room_alias) DO NOTHING",
                   {alias, room_id, creator});
  return r.affected == 1;
}

std::optional<std::string> rooms_store::resolve_alias(const std::string& alias) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT room_id FROM room_aliases WHERE room_alias = $1", {alias});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

std::optional<std::string> rooms_store::alias_creator(const std::string& alias) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT creator FROM room_aliases WHERE room_alias = $1", {alias});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

bool rooms_store::delete_alias(const std::string& alias) {
  auto c = pool_.acquire();
  return c->exec("DELETE FROM room_aliases WHERE room_alias = $1", {alias}).affected == 1;
}

std::vector<std::string> rooms_store::aliases_for_room(const std::string& room_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias",
                   {room_id});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

namespace {
membership_row to_membership(const row& r) {
  return membership_row{r.str(0), r.str(1), r.str(2), r.i64(3), r.i64(4) != 0};
}
} // namespace

std::optional<membership_row> rooms_store::membership(const std::string& user_id,
                                                      const std::string& room_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT room_id, membership, event_id, stream_ordering, forgotten FROM "
                   "local_current_membership WHERE user_id = $1 AND room_id = $2",
                   {user_id, room_id});
  if (r.empty()) return std::nullopt;
  return to_membership(r.rows[0]);
}

std::optional<membership_row> rooms_store::membership_at(const std::string& user_id,
                                                         const std::string& room_id, int64_t pos) {
  auto c = pool_.acquire();
  // The newest of the timeline's member event and a resolution's delta
  // (migration 023; the delta wins at its position, '' means no membership).
  auto r = c->exec("SELECT * FROM (SELECT membership, event_id, stream_ordering, stream_ordering, 0, "
                   "NULL FROM events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 "
                   "AND stream_ordering <= $3 ORDER BY stream_ordering DESC LIMIT 1) t UNION ALL "
                   "SELECT * FROM (SELECT ev.membership, d.event_id, COALESCE(ev.stream_ordering, "
                   "d.stream_ordering), d.stream_ordering, 1, eo.json FROM room_state_deltas d "
                   "LEFT JOIN events ev ON ev.event_id = d.event_id LEFT JOIN event_outliers eo ON "
                   "eo.event_id = d.event_id WHERE d.room_id = $1 AND d.type = "
                   "'m.room.member' AND d.state_key = $2 AND d.stream_ordering <= $3 ORDER BY "
                   "d.stream_ordering DESC LIMIT 1) u",
                   {room_id, user_id, pos});
  const row* best = nullptr;
  for (auto& rw : r.rows)
    if (!best || std::make_pair(rw.i64(3), rw.i64(4)) > std::make_pair(best->i64(3), best->i64(4)))
      best = &rw;
  if (!best || best->str(1).empty()) return std::nullopt;
  auto membership = best->str_or(0, "");
  if (best->is_null(0) && !best->is_null(5)) { // the winner is known only as an outlier
    auto ev = json::parse(best->str(5), nullptr, false);
    if (ev.is_object() && ev["content"].is_object())
      membership = ev["content"].value("membership", "");
  }
  return membership_row{room_id, membership, best->str(1), best->i64(2), false};
}

statement rooms_store::memberships_query(const std::string& user_id) {
  return {"SELECT room_id, membership, event_id, stream_ordering, forgotten FROM "
          "local_current_membership WHERE user_id = $1",
          {user_id}};
}

std::vector<membership_row> rooms_store::membership_rows(const result& r) {
  std::vector<membership_row> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) out.push_back(to_membership(row));
  return out;
}

std::vector<membership_row> rooms_store::memberships(const std::string& user_id) {
  auto q = memberships_query(user_id);
  return membership_rows(pool_.acquire()->exec(q.sql, q.params));
}

bool rooms_store::forget(const std::string& user_id, const std::string& room_id) {
  auto c = pool_.acquire();
  return c->exec("UPDATE local_current_membership SET forgotten = 1 WHERE user_id = $1 AND "
                 "room_id = $2 AND membership IN ('leave', 'ban')",
                 {user_id, room_id})
           .affected == 1;
}

std::vector<json> rooms_store::current_state(const std::string& room_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT e.json FROM current_state_events s JOIN events e ON e.event_id = "
                   "s.event_id WHERE s.room_id = $1 ORDER BY e.stream_ordering",
                   {room_id});
  std::vector<json> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) out.push_back(json::parse(row.str(0)));
  return out;
}

std::optional<json> rooms_store::current_state_event(const std::string& room_id,
                                                     const std::string& type,
                                                     const std::string& state_key) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT e.json FROM current_state_events s JOIN events e ON e.event_id = "
                   "s.event_id WHERE s.room_id = $1 AND s.type = $2 AND s.state_key = $3",
                   {room_id, type, state_key});
  if (r.empty()) return std::nullopt;
  return json::parse(r.rows[0].str(0));
}

std::vector<std::string> rooms_store::joined_users(const std::string& room_id) {
  auto r = pool_.acquire()->exec("SELECT state_key FROM current_state_events WHERE room_id = $1 AND type = "
                                 "'m.room.member' AND membership = 'join'",
                                 {room_id});
  std::vector<std::string> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

std::vector<json> rooms_store::current_members(const std::string& room_id,
                                               const std::string& membership) {
  auto c = pool_.acquire();
  result r;
  if (membership.empty())
    r = c->exec("SELECT e.json FROM current_state_events s JOIN events e ON e.event_id = "
                "s.event_id WHERE s.room_id = $1 AND s.type = 'm.room.member'",
                {room_id});
  else
    r = c->exec("SELECT e.json FROM current_state_events s JOIN events e ON e.event_id = "
                "s.event_id WHERE s.room_id = $1 AND s.type = 'm.room.member' AND s.membership "
                "= $2",
                {room_id, membership});
  std::vector<json> out;
  for (auto& row : r.rows) out.push_back(json::parse(row.str(0)));
  return out;
}

} // namespace axon::storage
