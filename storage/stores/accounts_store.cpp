#include "storage/stores/accounts_store.hpp"

namespace axon::storage {

namespace {
sql_value opt(const std::optional<std::string>& v) {
  if (v) return *v;
  return nullptr;
}

/// One attempt of accounts_store::add_filter.
int64_t add_filter_once(pool& p, const std::string& user_id, const std::string& filter_json) {
  return in_transaction(p, [&](connection& c) {
    // Reuse an identical filter, as Synapse does, so clients that upload the
    // same filter on every start don't grow the table.
    auto same = c.exec("SELECT filter_id FROM user_filters WHERE user_id = $1 AND filter_json = $2",
                       {user_id, filter_json});
    if (!same.empty()) return same.rows[0].i64(0);
    auto r = c.exec("SELECT COALESCE(MAX(filter_id), -1) + 1 FROM user_filters WHERE user_id = $1",
                    {user_id});
    auto id = r.rows[0].i64(0);
    c.exec("INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)",
           {user_id, id, filter_json});
    return id;
  });
}

} // namespace

bool accounts_store::create_user(const std::string& user_id, const std::string& password_hash,
                                 bool admin, int64_t now_ms) {
  auto c = pool_.acquire();
  auto r = c->exec("INSERT INTO users (name, password_hash, creation_ts, admin) VALUES ($1, $2, $3, "
                   "$4) ON CONFLICT (name) DO NOTHING",
                   {user_id, password_hash.empty() ? sql_value{nullptr} : sql_value{password_hash},
                    now_ms, int64_t{admin ? 1 : 0}});
  return r.affected == 1;
}

std::optional<user_row> accounts_store::get_user(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT name, password_hash, admin, deactivated FROM users WHERE name = $1",
                   {user_id});
  if (r.empty()) return std::nullopt;
  auto& row = r.rows[0];
  return user_row{row.str(0), row.str_or(1, ""), row.i64(2) != 0, row.i64(3) != 0};
}

void accounts_store::set_password_hash(const std::string& user_id, const std::string& hash) {
  auto c = pool_.acquire();
  c->exec("UPDATE users SET password_hash = $2 WHERE name = $1", {user_id, hash});
}

void accounts_store::deactivate(const std::string& user_id) {
  auto c = pool_.acquire();
  c->exec("UPDATE users SET deactivated = 1, password_hash = NULL WHERE name = $1", {user_id});
}

void accounts_store::upsert_device(const std::string& user_id, const std::string& device_id,
                                   const std::optional<std::string>& display_name,
                                   int64_t now_ms) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO devices (user_id, device_id, display_name, last_seen) VALUES ($1, $2, $3, "
          "$4) ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen = excluded.last_seen",
          {user_id, device_id, opt(display_name), now_ms});
}

void accounts_store::add_access_token(const std::string& token_hash, const std::string& user_id,
                                      const std::string& device_id, int64_t now_ms) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, "
          "$3, $4)",
          {token_hash, user_id, device_id, now_ms});
}

std::optional<token_row> accounts_store::find_token(const std::string& token_hash) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT t.user_id, t.device_id FROM access_tokens t JOIN users u ON u.name = "
                   "t.user_id WHERE t.token_hash = $1 AND u.deactivated = 0",
                   {token_hash});
  if (r.empty()) return std::nullopt;
  return token_row{r.rows[0].str(0), r.rows[0].str(1)};
}

void accounts_store::delete_token_and_device(const std::string& token_hash) {
  in_transaction(pool_, [&](connection& c) {
    auto r = c.exec("SELECT user_id, device_id FROM access_tokens WHERE token_hash = $1",
                    {token_hash});
    if (r.empty()) return;
    auto user = r.rows[0].str(0), device = r.rows[0].str(1);
    c.exec("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2", {user, device});
    c.exec("DELETE FROM devices WHERE user_id = $1 AND device_id = $2", {user, device});
    // The device's to-device inbox and transaction ids go with it (migration 004).
    c.exec("DELETE FROM device_inbox WHERE user_id = $1 AND device_id = $2", {user, device});
    c.exec("DELETE FROM device_inbox_txn_id WHERE user_id = $1 AND device_id = $2", {user, device});
  });
}

void accounts_store::delete_all_tokens_and_devices(const std::string& user_id) {
  in_transaction(pool_, [&](connection& c) {
    c.exec("DELETE FROM access_tokens WHERE user_id = $1", {user_id});
    c.exec("DELETE FROM devices WHERE user_id = $1", {user_id});
    c.exec("DELETE FROM device_inbox WHERE user_id = $1", {user_id});
    c.exec("DELETE FROM device_inbox_txn_id WHERE user_id = $1", {user_id});
  });
}

namespace {
device_row to_device(const row& r) {
  device_row d{r.str(0), std::nullopt, std::nullopt};
  if (!r.is_null(1)) d.display_name = r.str(1);
  if (!r.is_null(2)) d.last_seen = r.i64(2);
  return d;
}
} // namespace

std::vector<device_row> accounts_store::devices(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT device_id, display_name, last_seen FROM devices WHERE user_id = $1 "
                   "ORDER BY device_id",
                   {user_id});
  std::vector<device_row> out;
  for (auto& row : r.rows) out.push_back(to_device(row));
  return out;
}

std::optional<device_row> accounts_store::device(const std::string& user_id,
                                                 const std::string& device_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT device_id, display_name, last_seen FROM devices WHERE user_id = $1 AND "
                   "device_id = $2",
                   {user_id, device_id});
  if (r.empty()) return std::nullopt;
  return to_device(r.rows[0]);
}

bool accounts_store::set_device_display_name(const std::string& user_id,
                                             const std::string& device_id,
                                             const std::optional<std::string>& display_name) {
  auto c = pool_.acquire();
  auto r = c->exec("UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
                   {user_id, device_id, opt(display_name)});
  return r.affected == 1;
}

std::vector<std::string> accounts_store::delete_devices(const std::string& user_id,
                                                        const std::vector<std::string>& device_ids) {
  return in_transaction(pool_, [&](connection& c) {
    std::vector<std::string> hashes;
    for (auto& d : device_ids) {
      auto r = c.exec("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2 RETURNING "
                      "token_hash",
                      {user_id, d});
      for (auto& row : r.rows) hashes.push_back(row.str(0));
      c.exec("DELETE FROM devices WHERE user_id = $1 AND device_id = $2", {user_id, d});
      c.exec("DELETE FROM device_inbox WHERE user_id = $1 AND device_id = $2", {user_id, d});
      c.exec("DELETE FROM device_inbox_txn_id WHERE user_id = $1 AND device_id = $2", {user_id, d});
    }
    return hashes;
  });
}

profile_row accounts_store::get_profile(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT displayname, avatar_url FROM profiles WHERE user_id = $1", {user_id});
  profile_row p;
  if (r.empty()) return p;
  if (!r.rows[0].is_null(0)) p.displayname = r.rows[0].str(0);
  if (!r.rows[0].is_null(1)) p.avatar_url = r.rows[0].str(1);
  return p;
}

void accounts_store::set_displayname(const std::string& user_id,
                                     const std::optional<std::string>& v) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO profiles (user_id, displayname) VALUES ($1, $2) ON CONFLICT (user_id) DO "
          "UPDATE SET displayname = excluded.displayname",
          {user_id, opt(v)});
}

void accounts_store::set_avatar_url(const std::string& user_id,
                                    const std::optional<std::string>& v) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO profiles (user_id, avatar_url) VALUES ($1, $2) ON CONFLICT (user_id) DO "
          "UPDATE SET avatar_url = excluded.avatar_url",
          {user_id, opt(v)});
}

int64_t accounts_store::add_filter(const std::string& user_id, const std::string& filter_json) {
  // Ids are per-user MAX + 1. Two uploads at once can both pick the same id
  // on PostgreSQL (READ COMMITTED); the loser's INSERT then hits the primary
  // key, and a retry sees the winner's row. Each round has a winner, so a few
  // retries suffice for any realistic number of concurrent uploads.
  constexpr int max_attempts = 32;
  for (int attempt = 1;; ++attempt) {
    try {
      return add_filter_once(pool_, user_id, filter_json);
    } catch (const db_error& e) {
      if (!e.unique_violation() || attempt == max_attempts) throw;
    }
  }
}

std::optional<std::string> accounts_store::get_filter(const std::string& user_id,
                                                      int64_t filter_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2",
                   {user_id, filter_id});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str(0);
}

void accounts_store::add_nonce(const std::string& nonce, int64_t now_ms) {
  auto c = pool_.acquire();
  c->exec("DELETE FROM registration_nonces WHERE created_ts < $1", {now_ms - 3600 * 1000});
  c->exec("INSERT INTO registration_nonces (nonce, created_ts) VALUES ($1, $2)", {nonce, now_ms});
}

bool accounts_store::consume_nonce(const std::string& nonce, int64_t now_ms, int64_t max_age_ms) {
  auto c = pool_.acquire();
  auto r = c->exec("DELETE FROM registration_nonces WHERE nonce = $1 AND created_ts >= $2",
                   {nonce, now_ms - max_age_ms});
  return r.affected == 1;
}

} // namespace axon::storage
