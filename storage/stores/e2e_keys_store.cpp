#include "storage/stores/e2e_keys_store.hpp"

#include <algorithm>

namespace axon::storage {

namespace {

/// Takes one one-time key of the device (deleting it), or nullopt when it
/// has none. DELETE ... RETURNING makes the hand-out atomic even between
/// concurrent transactions: on PostgreSQL the loser of a race on the same row
/// deletes nothing and tries the next key.
std::optional<claimed_key> take_one_time_key(connection& c, const claim_request& q) {
  for (;;) {
    auto r = c.exec("DELETE FROM e2e_one_time_keys_json WHERE user_id = $1 AND device_id = $2 AND "
                    "algorithm = $3 AND key_id = (SELECT key_id FROM e2e_one_time_keys_json WHERE "
                    "user_id = $1 AND device_id = $2 AND algorithm = $3 ORDER BY key_id LIMIT 1) "
                    "RETURNING key_id, key_json",
                    {q.user_id, q.device_id, q.algorithm});
    if (!r.empty())
      return claimed_key{q.user_id, q.device_id, q.algorithm, r.rows[0].str(0), r.rows[0].str(1)};
    auto left = c.exec("SELECT COUNT(*) FROM e2e_one_time_keys_json WHERE user_id = $1 AND "
                       "device_id = $2 AND algorithm = $3",
                       {q.user_id, q.device_id, q.algorithm});
    if (left.rows[0].i64(0) == 0) return std::nullopt;
  }
}

} // namespace

int64_t e2e_keys_store::max_stream_id() {
  auto c = pool_.acquire();
  return c->exec("SELECT COALESCE(MAX(stream_id), 0) FROM device_lists_stream").rows[0].i64(0);
}

bool e2e_keys_store::set_device_keys(const std::string& user_id, const std::string& device_id,
                                     const std::string& key_json, int64_t now_ms) {
  return in_transaction(pool_, [&](connection& c) {
    auto cur = c.exec("SELECT key_json FROM e2e_device_keys_json WHERE user_id = $1 AND "
                      "device_id = $2",
                      {user_id, device_id});
    if (!cur.empty() && cur.rows[0].str(0) == key_json) return false;
    c.exec("INSERT INTO e2e_device_keys_json (user_id, device_id, ts_added_ms, key_json) VALUES "
           "($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO UPDATE SET ts_added_ms = "
           "excluded.ts_added_ms, key_json = excluded.key_json",
           {user_id, device_id, now_ms, key_json});
    return true;
  });
}

std::optional<std::string> e2e_keys_store::conflicting_one_time_key(
  const std::string& user_id, const std::string& device_id, const std::vector<e2e_key>& keys) {
  auto c = pool_.acquire();
  for (auto& k : keys) {
    auto r = c->exec("SELECT key_json FROM e2e_one_time_keys_json WHERE user_id = $1 AND "
                     "device_id = $2 AND algorithm = $3 AND key_id = $4",
                     {user_id, device_id, k.algorithm, k.key_id});
    if (!r.empty() && r.rows[0].str(0) != k.key_json) return k.algorithm + ":" + k.key_id;
  }
  return std::nullopt;
}

void e2e_keys_store::add_one_time_keys(const std::string& user_id, const std::string& device_id,
                                       const std::vector<e2e_key>& keys, int64_t now_ms) {
  if (keys.empty()) return;
  std::vector<statement> stmts;
  for (auto& k : keys)
    stmts.push_back({"INSERT INTO e2e_one_time_keys_json (user_id, device_id, algorithm, key_id, "
                     "ts_added_ms, key_json) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                     {user_id, device_id, k.algorithm, k.key_id, now_ms, k.key_json}});
  pool_.acquire()->exec_transaction(stmts);
}

void e2e_keys_store::set_fallback_keys(const std::string& user_id, const std::string& device_id,
                                       const std::vector<e2e_key>& keys) {
  if (keys.empty()) return;
  std::vector<statement> stmts;
  for (auto& k : keys)
    stmts.push_back(
      {"INSERT INTO e2e_fallback_keys_json (user_id, device_id, algorithm, key_id, key_json, used) "
       "VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET "
       "used = CASE WHEN e2e_fallback_keys_json.key_id = excluded.key_id AND "
       "e2e_fallback_keys_json.key_json = excluded.key_json THEN e2e_fallback_keys_json.used ELSE 0 "
       "END, key_id = excluded.key_id, key_json = excluded.key_json",
       {user_id, device_id, k.algorithm, k.key_id, k.key_json}});
  pool_.acquire()->exec_transaction(stmts);
}

std::vector<claimed_key> e2e_keys_store::claim(const std::vector<claim_request>& reqs) {
  return in_transaction(pool_, [&](connection& c) {
    std::vector<claimed_key> out;
    for (auto& q : reqs) {
      if (auto k = take_one_time_key(c, q)) {
        out.push_back(std::move(*k));
        continue;
      }
      // Spec: the fallback key is handed out (again) when no one-time key is left.
      auto r = c.exec("UPDATE e2e_fallback_keys_json SET used = 1 WHERE user_id = $1 AND "
                      "device_id = $2 AND algorithm = $3 RETURNING key_id, key_json",
                      {q.user_id, q.device_id, q.algorithm});
      if (!r.empty())
        out.push_back({q.user_id, q.device_id, q.algorithm, r.rows[0].str(0), r.rows[0].str(1)});
    }
    return out;
  });
}

void e2e_keys_store::delete_device_keys(const std::string& user_id,
                                        const std::vector<std::string>& device_ids) {
  std::vector<statement> stmts;
  for (auto& d : device_ids)
    for (auto* table : {"e2e_device_keys_json", "e2e_one_time_keys_json", "e2e_fallback_keys_json"})
      stmts.push_back({std::string("DELETE FROM ") + table + " WHERE user_id = $1 AND device_id = $2",
                       {user_id, d}});
  if (!stmts.empty()) pool_.acquire()->exec_transaction(stmts);
}

void e2e_keys_store::add_stream_rows(int64_t pos, const std::string& user_id,
                                     const std::vector<std::string>& device_ids) {
  std::vector<statement> stmts;
  const char* sql = "INSERT INTO device_lists_stream (stream_id, user_id, device_id) VALUES ($1, $2, $3)";
  if (device_ids.empty()) stmts.push_back({sql, {pos, user_id, std::string()}});
  for (auto& d : device_ids) stmts.push_back({sql, {pos, user_id, d}});
  pool_.acquire()->exec_transaction(stmts);
}

std::map<std::string, std::string> e2e_keys_store::device_keys(
  const std::string& user_id, const std::vector<std::string>& device_ids) {
  auto c = pool_.acquire();
  std::string sql = "SELECT device_id, key_json FROM e2e_device_keys_json WHERE user_id = $1";
  sql_params params{user_id};
  if (!device_ids.empty()) {
    sql += " AND device_id IN (" + placeholders(2, device_ids.size()) + ")";
    for (auto& d : device_ids) params.push_back(d);
  }
  std::map<std::string, std::string> out;
  for (auto& row : c->exec(sql, params).rows) out[row.str(0)] = row.str(1);
  return out;
}

std::map<std::string, int64_t> e2e_keys_store::one_time_key_counts(const std::string& user_id,
                                                                   const std::string& device_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT algorithm, COUNT(*) FROM e2e_one_time_keys_json WHERE user_id = $1 AND "
                   "device_id = $2 GROUP BY algorithm",
                   {user_id, device_id});
  std::map<std::string, int64_t> out;
  for (auto& row : r.rows) out[row.str(0)] = row.i64(1);
  return out;
}

std::vector<std::string> e2e_keys_store::unused_fallback_key_types(const std::string& user_id,
                                                                   const std::string& device_id) {
  return key_state(user_id, device_id).second;
}

std::pair<std::map<std::string, int64_t>, std::vector<std::string>>
e2e_keys_store::key_state(const std::string& user_id, const std::string& device_id) {
  auto q = key_state_query(user_id, device_id);
  return key_state_rows(pool_.acquire()->exec(q.sql, q.params));
}

statement e2e_keys_store::key_state_query(const std::string& user_id, const std::string& device_id) {
  return {"SELECT 0, algorithm, COUNT(*) FROM e2e_one_time_keys_json WHERE user_id = $1 "
          "AND device_id = $2 GROUP BY algorithm UNION ALL SELECT 1, algorithm, 0 FROM "
          "e2e_fallback_keys_json WHERE user_id = $1 AND device_id = $2 AND used = 0",
          {user_id, device_id}};
}

std::pair<std::map<std::string, int64_t>, std::vector<std::string>>
e2e_keys_store::key_state_rows(const result& r) {
  std::pair<std::map<std::string, int64_t>, std::vector<std::string>> out;
  for (auto& row : r.rows) {
    if (row.i64(0) == 0) out.first[row.str(1)] = row.i64(2);
    else out.second.push_back(row.str(1));
  }
  std::sort(out.second.begin(), out.second.end());
  return out;
}

int64_t e2e_keys_store::previous_change(const std::string& user_id, int64_t pos) {
  auto r = pool_.acquire()->exec(
    "SELECT COALESCE(MAX(stream_id), 0) FROM device_lists_stream WHERE user_id = $1 AND stream_id < $2",
    {user_id, pos});
  return r.rows.at(0).i64(0);
}

std::vector<std::string> e2e_keys_store::changed_users(int64_t from, int64_t to) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT DISTINCT user_id FROM device_lists_stream WHERE stream_id > $1 AND "
                   "stream_id <= $2 ORDER BY user_id",
                   {from, to});
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}

namespace {
std::vector<std::string> column(result r) {
  std::vector<std::string> out;
  for (auto& row : r.rows) out.push_back(row.str(0));
  return out;
}
} // namespace

std::vector<std::string> e2e_keys_store::joined_rooms(const std::string& user_id) {
  // Users of other servers too, from the rooms' current state (their
  // device list updates wake the local users sharing those rooms).
  return column(pool_.acquire()->exec(
    "SELECT room_id FROM local_current_membership WHERE user_id = $1 AND membership = 'join' "
    "UNION SELECT room_id FROM current_state_events WHERE state_key = $1 AND membership = 'join' AND "
    "type = 'm.room.member' ORDER BY room_id",
    {user_id}));
}

std::vector<std::string> e2e_keys_store::users_sharing_room(const std::string& user_id) {
  return column(pool_.acquire()->exec(
    "SELECT DISTINCT c.state_key FROM local_current_membership m JOIN current_state_events c ON "
    "c.room_id = m.room_id WHERE m.user_id = $1 AND m.membership = 'join' AND c.type = "
    "'m.room.member' AND c.membership = 'join' ORDER BY c.state_key",
    {user_id}));
}

std::vector<e2e_keys_store::shared_membership>
e2e_keys_store::shared_membership_changes(const std::string& user_id, int64_t lo, int64_t hi) {
  auto r = pool_.acquire()->exec(
    "SELECT c.room_id, c.state_key, c.membership, c.stream_ordering, m.membership, "
    "m.stream_ordering FROM local_current_membership m JOIN current_state_events c ON "
    "c.room_id = m.room_id WHERE m.user_id = $1 AND c.type = 'm.room.member' AND "
    "((c.stream_ordering > $2 AND c.stream_ordering <= $3) OR (m.stream_ordering > $2 AND "
    "m.stream_ordering <= $3)) ORDER BY c.state_key",
    {user_id, lo, hi});
  std::vector<shared_membership> out;
  out.reserve(r.rows.size());
  for (auto& row : r.rows)
    out.push_back({row.str(0), row.str(1), row.str(2), row.i64(3), row.str(4), row.i64(5)});
  return out;
}

} // namespace axon::storage
