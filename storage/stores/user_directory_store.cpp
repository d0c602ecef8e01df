#include "storage/stores/user_directory_store.hpp"

#include <algorithm>

namespace axon::storage {

using nlohmann::json;

int64_t user_directory_store::position() {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_id FROM stream_positions WHERE stream_name = 'user_directory' AND "
                   "instance_name = ''");
  return r.empty() ? 0 : r.rows[0].i64(0);
}

void user_directory_store::set_position(int64_t pos) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO stream_positions (stream_name, instance_name, stream_id) VALUES "
          "('user_directory', '', $1) ON CONFLICT (stream_name, instance_name) DO UPDATE SET "
          "stream_id = excluded.stream_id",
          {pos});
}

std::vector<std::pair<int64_t, json>> user_directory_store::relevant_events(int64_t from, int64_t to,
                                                                          size_t limit) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_ordering, json FROM events WHERE stream_ordering > $1 AND "
                   "stream_ordering <= $2 AND type IN ('m.room.member', 'm.room.join_rules', "
                   "'m.room.history_visibility') ORDER BY stream_ordering LIMIT $3",
                   {from, to, static_cast<int64_t>(limit)});
  std::vector<std::pair<int64_t, json>> out;
  for (auto& row : r.rows) out.emplace_back(row.i64(0), json::parse(row.str(1)));
  return out;
}

bool user_directory_store::room_is_public(const std::string& room_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT e.type, e.json FROM current_state_events s JOIN events e ON e.event_id "
                   "= s.event_id WHERE s.room_id = $1 AND s.state_key = '' AND s.type IN "
                   "('m.room.join_rules', 'm.room.history_visibility')",
                   {room_id});
  for (auto& row : r.rows) {
    auto ev = json::parse(row.str(1));
    auto& content = ev["content"];
    if (!content.is_object()) continue;
    if (row.str(0) == "m.room.join_rules" && content.value("join_rule", json()).is_string() &&
        content["join_rule"] == "public")
      return true;
    if (row.str(0) == "m.room.history_visibility" &&
        content.value("history_visibility", json()).is_string() &&
        content["history_visibility"] == "world_readable")
      return true;
  }
  return false;
}

void user_directory_store::set_membership(const std::string& user_id, const std::string& room_id,
                                          bool joined, bool room_public,
                                          const std::optional<std::string>& display_name,
                                          const std::optional<std::string>& avatar_url) {
  auto opt = [](const std::optional<std::string>& v) -> sql_value {
    if (v) return *v;
    return nullptr;
  };
  in_transaction(pool_, [&](connection& c) {
    if (joined) {
      c.exec("INSERT INTO user_directory_rooms (user_id, room_id, is_public) VALUES ($1, $2, $3) "
             "ON CONFLICT (user_id, room_id) DO UPDATE SET is_public = excluded.is_public",
             {user_id, room_id, int64_t{room_public ? 1 : 0}});
      c.exec("INSERT INTO user_directory (user_id, display_name, avatar_url) VALUES ($1, $2, $3) "
             "ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, "
             "avatar_url = excluded.avatar_url",
             {user_id, opt(display_name), opt(avatar_url)});
    } else {
      c.exec("DELETE FROM user_directory_rooms WHERE user_id = $1 AND room_id = $2",
             {user_id, room_id});
    }
  });
}

void user_directory_store::set_room_public(const std::string& room_id, bool is_public) {
  auto c = pool_.acquire();
  c->exec("UPDATE user_directory_rooms SET is_public = $2 WHERE room_id = $1",
          {room_id, int64_t{is_public ? 1 : 0}});
}

std::vector<directory_user> user_directory_store::search(const std::string& searcher,
                                                         const std::string& term, int64_t limit) {
  std::string like;
  for (char ch : term) {
    if (ch == '%' || ch == '_' || ch == '\\') like += '\\';
    like += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  like = "%" + like + "%";
  auto c = pool_.acquire();
  auto r = c->exec(
    "SELECT d.user_id, d.display_name, d.avatar_url FROM user_directory d WHERE "
    "(LOWER(d.user_id) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(d.display_name, '')) LIKE $2 ESCAPE "
    "'\\') AND EXISTS (SELECT 1 FROM user_directory_rooms r WHERE r.user_id = d.user_id AND "
    "(r.is_public = 1 OR r.room_id IN (SELECT room_id FROM user_directory_rooms WHERE user_id = "
    "$1))) ORDER BY d.display_name IS NULL, LOWER(COALESCE(d.display_name, d.user_id)), "
    "d.user_id LIMIT $3",
    {searcher, like, limit + 1});
  std::vector<directory_user> out;
  for (auto& row : r.rows) {
    directory_user u{row.str(0), std::nullopt, std::nullopt};
    if (!row.is_null(1)) u.display_name = row.str(1);
    if (!row.is_null(2)) u.avatar_url = row.str(2);
    out.push_back(std::move(u));
  }
  return out;
}

} // namespace axon::storage
