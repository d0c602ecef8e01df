#include "storage/stores/room_keys_store.hpp"

#include <vector>

namespace axon::storage {

using nlohmann::json;

namespace {

/// Versions are decimal integers; anything else names no version.
std::optional<int64_t> parse_version(const std::string& v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  return n;
}

/// Takes the user's backup lock until the transaction ends.
void lock_user(connection& c, const std::string& user_id) {
  c.exec("INSERT INTO e2e_room_keys_locks (user_id, writes) VALUES ($1, 1) ON CONFLICT (user_id) "
         "DO UPDATE SET writes = e2e_room_keys_locks.writes + 1",
         {user_id});
}

/// The etag of a non-deleted version, or nullopt.
std::optional<int64_t> live_etag(connection& c, const std::string& user_id, int64_t version) {
  auto r = c.exec("SELECT etag FROM e2e_room_keys_versions WHERE user_id = $1 AND version = $2 "
                  "AND deleted = 0",
                  {user_id, version});
  if (r.empty()) return std::nullopt;
  return r.rows[0].i64(0);
}

int64_t count_keys(connection& c, const std::string& user_id, int64_t version) {
  return c.exec("SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = $1 AND version = $2",
                {user_id, version})
    .rows.at(0)
    .i64(0);
}

void set_etag(connection& c, const std::string& user_id, int64_t version, int64_t etag) {
  c.exec("UPDATE e2e_room_keys_versions SET etag = $3 WHERE user_id = $1 AND version = $2",
         {user_id, version, etag});
}

room_keys_write written(connection& c, const std::string& user_id, int64_t version, int64_t etag) {
  room_keys_write out;
  out.etag = std::to_string(etag);
  out.count = count_keys(c, user_id, version);
  return out;
}

room_keys_write not_found() {
  room_keys_write out;
  out.result = room_keys_write::status::not_found;
  return out;
}

} // namespace

std::string room_keys_store::create_version(const std::string& user_id,
                                            const std::string& algorithm,
                                            const std::string& auth_data) {
  return in_transaction(pool_, [&](connection& c) {
    lock_user(c, user_id);
    // Deleted versions count too: a version number is never reused.
    auto next = c.exec("SELECT COALESCE(MAX(version), 0) + 1 FROM e2e_room_keys_versions WHERE "
                       "user_id = $1",
                       {user_id})
                  .rows.at(0)
                  .i64(0);
    c.exec("INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data, deleted, "
           "etag) VALUES ($1, $2, $3, $4, 0, 0)",
           {user_id, next, algorithm, auth_data});
    return std::to_string(next);
  });
}

std::optional<backup_version>
room_keys_store::get_version(const std::string& user_id, const std::optional<std::string>& version) {
  std::string sql = "SELECT v.version, v.algorithm, v.auth_data, v.etag, (SELECT COUNT(*) FROM "
                    "e2e_room_keys k WHERE k.user_id = v.user_id AND k.version = v.version) FROM "
                    "e2e_room_keys_versions v WHERE v.user_id = $1 AND v.deleted = 0";
  sql_params params{user_id};
  if (version) {
    auto v = parse_version(*version);
    if (!v) return std::nullopt;
    sql += " AND v.version = $2";
    params.emplace_back(*v);
  }
  sql += " ORDER BY v.version DESC LIMIT 1";
  auto r = pool_.acquire()->exec(sql, params);
  if (r.empty()) return std::nullopt;
  auto& row = r.rows[0];
  return backup_version{row.str(0), row.str(1), json::parse(row.str(2)), row.i64(4), row.str(3)};
}

room_keys_store::update_result room_keys_store::update_version(const std::string& user_id,
                                                               const std::string& version,
                                                               const std::string& algorithm,
                                                               const std::string& auth_data) {
  auto v = parse_version(version);
  if (!v) return update_result::not_found;
  return in_transaction(pool_, [&](connection& c) {
    lock_user(c, user_id);
    auto r = c.exec("SELECT algorithm FROM e2e_room_keys_versions WHERE user_id = $1 AND "
                    "version = $2 AND deleted = 0",
                    {user_id, *v});
    if (r.empty()) return update_result::not_found;
    if (r.rows[0].str(0) != algorithm) return update_result::algorithm_mismatch;
    c.exec("UPDATE e2e_room_keys_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2",
           {user_id, *v, auth_data});
    return update_result::ok;
  });
}

room_keys_store::delete_result room_keys_store::delete_version(const std::string& user_id,
                                                               const std::string& version) {
  auto v = parse_version(version);
  if (!v) return delete_result::not_found;
  return in_transaction(pool_, [&](connection& c) {
    lock_user(c, user_id);
    auto r = c.exec("SELECT deleted FROM e2e_room_keys_versions WHERE user_id = $1 AND "
                    "version = $2",
                    {user_id, *v});
    if (r.empty()) return delete_result::not_found;
    if (r.rows[0].i64(0) != 0) return delete_result::already_deleted;
    c.exec("DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2", {user_id, *v});
    c.exec("UPDATE e2e_room_keys_versions SET deleted = 1 WHERE user_id = $1 AND version = $2",
           {user_id, *v});
    return delete_result::deleted;
  });
}

room_keys_write room_keys_store::put_keys(const std::string& user_id, const std::string& version,
                                          const room_key_map& keys) {
  auto v = parse_version(version);
  return in_transaction(pool_, [&](connection& c) {
    lock_user(c, user_id);
    auto cur = c.exec("SELECT version, etag FROM e2e_room_keys_versions WHERE user_id = $1 AND "
                      "deleted = 0 ORDER BY version DESC LIMIT 1",
                      {user_id});
    if (cur.empty()) return not_found();
    int64_t current = cur.rows[0].i64(0);
    if (!v || *v != current) {
      // As Synapse: 403 only when the named version exists (not deleted).
      if (!v || !live_etag(c, user_id, *v)) return not_found();
      room_keys_write out;
      out.result = room_keys_write::status::wrong_version;
      out.current_version = std::to_string(current);
      return out;
    }
    int64_t etag = cur.rows[0].i64(1);
    std::vector<statement> writes;
    for (auto& [room_id, sessions] : keys) {
      std::map<std::string, matrix::room_key> existing;
      auto r = c.exec("SELECT session_id, first_message_index, forwarded_count, is_verified FROM "
                      "e2e_room_keys WHERE user_id = $1 AND version = $2 AND room_id = $3",
                      {user_id, current, room_id});
      for (auto& row : r.rows)
        existing[row.str(0)] = matrix::room_key{row.i64(1), row.i64(2), row.i64(3) != 0, ""};
      for (auto& [session_id, key] : sessions) {
        sql_params p{user_id,
                     current,
                     room_id,
                     session_id,
                     key.first_message_index,
                     key.forwarded_count,
                     int64_t{key.is_verified ? 1 : 0},
                     key.session_data};
        auto old = existing.find(session_id);
        if (old == existing.end()) {
          writes.push_back({"INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, "
                            "first_message_index, forwarded_count, is_verified, session_data) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                            std::move(p)});
        } else if (matrix::should_replace_room_key(old->second, key)) {
          writes.push_back({"UPDATE e2e_room_keys SET first_message_index = $5, forwarded_count "
                            "= $6, is_verified = $7, session_data = $8 WHERE user_id = $1 AND "
                            "version = $2 AND room_id = $3 AND session_id = $4",
                            std::move(p)});
        } else {
          continue;
        }
        // A session named twice in one request competes with itself too.
        existing[session_id] = key;
      }
    }
    if (!writes.empty()) {
      c.exec_many(writes);
      set_etag(c, user_id, current, ++etag);
    }
    return written(c, user_id, current, etag);
  });
}

std::optional<json> room_keys_store::get_keys(const std::string& user_id,
                                              const std::string& version,
                                              const std::optional<std::string>& room_id,
                                              const std::optional<std::string>& session_id) {
  auto v = parse_version(version);
  if (!v) return std::nullopt;
  auto c = pool_.acquire();
  if (!live_etag(*c, user_id, *v)) return std::nullopt;
  std::string sql = "SELECT room_id, session_id, first_message_index, forwarded_count, "
                    "is_verified, session_data FROM e2e_room_keys WHERE user_id = $1 AND "
                    "version = $2";
  sql_params params{user_id, *v};
  if (room_id) {
    sql += " AND room_id = $3";
    params.emplace_back(*room_id);
    if (session_id) {
      sql += " AND session_id = $4";
      params.emplace_back(*session_id);
    }
  }
  sql += " ORDER BY room_id, session_id";
  json rooms = json::object();
  for (auto& row : c->exec(sql, params).rows) {
    rooms[row.str(0)]["sessions"][row.str(1)] = {{"first_message_index", row.i64(2)},
                                                 {"forwarded_count", row.i64(3)},
                                                 {"is_verified", row.i64(4) != 0},
                                                 {"session_data", json::parse(row.str(5))}};
  }
  return json{{"rooms", std::move(rooms)}};
}

room_keys_write room_keys_store::delete_keys(const std::string& user_id,
                                             const std::string& version,
                                             const std::optional<std::string>& room_id,
                                             const std::optional<std::string>& session_id) {
  auto v = parse_version(version);
  if (!v) return not_found();
  return in_transaction(pool_, [&](connection& c) {
    lock_user(c, user_id);
    auto etag = live_etag(c, user_id, *v);
    if (!etag) return not_found();
    std::string sql = "DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2";
    sql_params params{user_id, *v};
    if (room_id) {
      sql += " AND room_id = $3";
      params.emplace_back(*room_id);
      if (session_id) {
        sql += " AND session_id = $4";
        params.emplace_back(*session_id);
      }
    }
    if (c.exec(sql, params).affected > 0) set_etag(c, user_id, *v, ++*etag);
    return written(c, user_id, *v, *etag);
  });
}

} // namespace axon::storage
