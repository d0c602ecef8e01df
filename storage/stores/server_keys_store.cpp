#include "storage/stores/server_keys_store.hpp"

#include "matrix/base64.hpp"

namespace axon::storage {

void server_keys_store::store(const matrix::server_keys& keys, const std::string& answer_json,
                              const std::string& from_server, int64_t now_ms) {
  in_transaction(pool_, [&](connection& c) {
    auto put = [&](const std::string& key_id, const std::string& raw, int64_t until) {
      c.exec("INSERT INTO server_signature_keys (server_name, key_id, from_server, ts_added_ms, "
             "ts_valid_until_ms, verify_key) VALUES ($1, $2, $3, $4, $5, $6) "
             "ON CONFLICT (server_name, key_id) DO UPDATE SET from_server = excluded.from_server, "
             "ts_added_ms = excluded.ts_added_ms, ts_valid_until_ms = excluded.ts_valid_until_ms, "
             "verify_key = excluded.verify_key "
             "WHERE excluded.ts_valid_until_ms >= server_signature_keys.ts_valid_until_ms",
             {keys.server_name, key_id, from_server, now_ms, until, matrix::base64_encode(raw)});
      c.exec("INSERT INTO server_keys_json (server_name, key_id, from_server, ts_added_ms, "
             "ts_valid_until_ms, key_json) VALUES ($1, $2, $3, $4, $5, $6) "
             "ON CONFLICT (server_name, key_id, from_server) DO UPDATE SET "
             "ts_added_ms = excluded.ts_added_ms, ts_valid_until_ms = excluded.ts_valid_until_ms, "
             "key_json = excluded.key_json "
             "WHERE excluded.ts_valid_until_ms >= server_keys_json.ts_valid_until_ms",
             {keys.server_name, key_id, from_server, now_ms, keys.valid_until_ts, answer_json});
    };
    for (auto& [id, raw] : keys.verify_keys) put(id, raw, keys.valid_until_ts);
    for (auto& [id, old] : keys.old_verify_keys)
      if (!keys.verify_keys.count(id)) put(id, old.public_key, old.expired_ts);
  });
}

std::optional<stored_server_key> server_keys_store::key(const std::string& server_name,
                                                       const std::string& key_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT from_server, ts_added_ms, ts_valid_until_ms, verify_key FROM "
                   "server_signature_keys WHERE server_name = $1 AND key_id = $2",
                   {server_name, key_id});
  if (r.empty()) return std::nullopt;
  auto raw = matrix::base64_decode(r.rows[0].str(3));
  if (!raw || raw->size() != 32) return std::nullopt;
  return stored_server_key{server_name, key_id, *raw, r.rows[0].i64(2), r.rows[0].str(0), r.rows[0].i64(1)};
}

std::vector<stored_key_answer> server_keys_store::answers(const std::string& server_name,
                                                          const std::string& key_id) {
  auto c = pool_.acquire();
  auto r = key_id.empty()
             ? c->exec("SELECT key_id, from_server, ts_valid_until_ms, key_json FROM server_keys_json "
                       "WHERE server_name = $1 ORDER BY ts_valid_until_ms DESC, key_id",
                       {server_name})
             : c->exec("SELECT key_id, from_server, ts_valid_until_ms, key_json FROM server_keys_json "
                       "WHERE server_name = $1 AND key_id = $2 ORDER BY ts_valid_until_ms DESC",
                       {server_name, key_id});
  std::vector<stored_key_answer> out;
  for (auto& row : r.rows) out.push_back({row.str(0), row.str(1), row.i64(2), row.str(3)});
  return out;
}

} // namespace axon::storage
