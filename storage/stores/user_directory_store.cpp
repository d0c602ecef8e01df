#include "storage/stores/user_directory_store.hpp"

#include "matrix/user_directory_search.hpp"
#include "matrix/visibility.hpp"

#include <nlohmann/json.hpp>

namespace axon::storage {

using nlohmann::json;

namespace {

std::optional<std::string> string_field(const json& content, const char* key) {
  auto i = content.find(key);
  if (i == content.end() || !i->is_string()) return std::nullopt;
  return i->get<std::string>();
}

sql_value opt(const std::optional<std::string>& v) {
  if (v) return *v;
  return nullptr;
}

bool is_public(connection& c, const std::string& room_id) {
  auto r = c.exec("SELECT e.type, e.json FROM current_state_events s JOIN events e ON e.event_id "
                  "= s.event_id WHERE s.room_id = $1 AND s.state_key = '' AND s.type IN "
                  "('m.room.join_rules', 'm.room.history_visibility')",
                  {room_id});
  for (auto& row : r.rows) {
    auto ev = json::parse(row.str(1), nullptr, false);
    if (!ev.is_object() || !ev.contains("content") || !ev["content"].is_object()) continue;
    auto& content = ev["content"];
    if (row.str(0) == "m.room.join_rules" && string_field(content, "join_rule") == "public")
      return true;
    if (row.str(0) == "m.room.history_visibility" &&
        matrix::parse_history_visibility(content) == matrix::history_visibility::world_readable)
      return true;
  }
  return false;
}

// LIKE pattern matching `word` anywhere; the search's words are lower case.
std::string like_anywhere(const std::string& word) {
  std::string like = "%";
  for (char ch : word) {
    if (ch == '%' || ch == '_' || ch == '\\') like += '\\';
    like += ch;
  }
  return like + "%";
}

} // namespace

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

std::vector<directory_change> user_directory_store::relevant_events(int64_t from, int64_t to,
                                                                    size_t limit) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stream_ordering, room_id, type, state_key FROM events WHERE "
                   "stream_ordering > $1 AND stream_ordering <= $2 AND state_key IS NOT NULL AND "
                   "type IN ('m.room.member', 'm.room.join_rules', 'm.room.history_visibility') "
                   "ORDER BY stream_ordering LIMIT $3",
                   {from, to, static_cast<int64_t>(limit)});
  std::vector<directory_change> out;
  for (auto& row : r.rows) out.push_back({row.i64(0), row.str(1), row.str(2), row.str(3)});
  return out;
}

bool user_directory_store::room_is_public(const std::string& room_id) {
  auto c = pool_.acquire();
  return is_public(*c, room_id);
}

void user_directory_store::refresh_membership(const std::string& room_id,
                                              const std::string& user_id) {
  in_transaction(pool_, [&](connection& c) {
    auto r = c.exec("SELECT e.json FROM current_state_events s JOIN events e ON e.event_id = "
                    "s.event_id WHERE s.room_id = $1 AND s.type = 'm.room.member' AND "
                    "s.state_key = $2 AND s.membership = 'join'",
                    {room_id, user_id});
    if (!r.empty()) {
      auto ev = json::parse(r.rows[0].str(0), nullptr, false);
      json content = ev.is_object() && ev.contains("content") && ev["content"].is_object()
                       ? ev["content"]
                       : json::object();
      c.exec("INSERT INTO user_directory_rooms (user_id, room_id, is_public) VALUES ($1, $2, $3) "
             "ON CONFLICT (user_id, room_id) DO UPDATE SET is_public = excluded.is_public",
             {user_id, room_id, int64_t{is_public(c, room_id) ? 1 : 0}});
      c.exec("INSERT INTO user_directory (user_id, display_name, avatar_url) VALUES ($1, $2, $3) "
             "ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, "
             "avatar_url = excluded.avatar_url",
             {user_id, opt(string_field(content, "displayname")),
              opt(string_field(content, "avatar_url"))});
      return;
    }
    c.exec("DELETE FROM user_directory_rooms WHERE user_id = $1 AND room_id = $2",
           {user_id, room_id});
    // The server left the room: nothing more will be heard of its remote
    // members, so none of them stays in the directory through it (Synapse's
    // is_host_joined check).
    auto local = c.exec("SELECT 1 FROM local_current_membership WHERE room_id = $1 AND "
                        "membership = 'join' LIMIT 1",
                        {room_id});
    if (local.empty()) c.exec("DELETE FROM user_directory_rooms WHERE room_id = $1", {room_id});
  });
}

void user_directory_store::refresh_room(const std::string& room_id) {
  in_transaction(pool_, [&](connection& c) {
    c.exec("UPDATE user_directory_rooms SET is_public = $2 WHERE room_id = $1",
           {room_id, int64_t{is_public(c, room_id) ? 1 : 0}});
  });
}

std::vector<directory_user> user_directory_store::search(const std::string& searcher,
                                                         const std::string& term, int64_t limit,
                                                         const directory_search_options& opts) {
  auto words = matrix::search_words(term);
  if (words.empty() || limit < 0) return {};
  // Who may be found. Synapse: users_in_public_rooms, plus
  // users_who_share_private_rooms for the searcher (never themselves); with
  // search_all_users, everyone in user_directory but the searcher.
  std::string visible =
    opts.search_all_users
      ? "SELECT name AS user_id FROM users WHERE name <> $1 UNION SELECT user_id FROM "
        "user_directory_rooms WHERE user_id <> $1"
      : "SELECT user_id FROM user_directory_rooms WHERE is_public = 1 UNION SELECT o.user_id FROM "
        "user_directory_rooms o JOIN user_directory_rooms s ON s.room_id = o.room_id WHERE "
        "s.user_id = $1 AND o.user_id <> $1";
  // Local users show their own profile; remote users what their membership
  // events said.
  std::string sql =
    "SELECT v.user_id, CASE WHEN u.name IS NULL THEN d.display_name ELSE p.displayname END, "
    "CASE WHEN u.name IS NULL THEN d.avatar_url ELSE p.avatar_url END FROM (" + visible +
    ") v LEFT JOIN users u ON u.name = v.user_id LEFT JOIN profiles p ON p.user_id = v.user_id "
    "LEFT JOIN user_directory d ON d.user_id = v.user_id WHERE (u.name IS NULL OR u.deactivated "
    "= 0)";
  // A cheap necessary condition for the database; the word-prefix rule and
  // the ranking are matrix::rank_directory's.
  std::vector<sql_value> args{searcher};
  for (auto& w : words) {
    args.push_back(like_anywhere(w));
    auto n = "$" + std::to_string(args.size());
    sql += " AND (LOWER(v.user_id) LIKE " + n + " ESCAPE '\\' OR LOWER(COALESCE(CASE WHEN u.name "
           "IS NULL THEN d.display_name ELSE p.displayname END, '')) LIKE " + n + " ESCAPE '\\')";
  }
  std::vector<matrix::directory_candidate> candidates;
  {
    auto c = pool_.acquire();
    auto r = c->exec(sql, args);
    for (auto& row : r.rows) {
      matrix::directory_candidate u{row.str(0), std::nullopt, std::nullopt};
      if (!row.is_null(1)) u.display_name = row.str(1);
      if (!row.is_null(2)) u.avatar_url = row.str(2);
      candidates.push_back(std::move(u));
    }
  }
  auto ranked = matrix::rank_directory(term, std::move(candidates), static_cast<size_t>(limit) + 1,
                                       opts.prefer_server);
  std::vector<directory_user> out;
  for (auto& c : ranked) out.push_back({c.user_id, c.display_name, c.avatar_url});
  return out;
}

} // namespace axon::storage
