#include "storage/stores/pushers_store.hpp"

namespace axon::storage {

using nlohmann::json;

std::vector<json> pushers_store::for_user(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT app_id, pushkey, kind, app_display_name, device_display_name, "
                   "profile_tag, lang, data FROM pushers WHERE user_id = $1 ORDER BY created_ts, "
                   "app_id, pushkey",
                   {user_id});
  std::vector<json> out;
  for (auto& row : r.rows) {
    json p = {{"app_id", row.str(0)},
              {"pushkey", row.str(1)},
              {"kind", row.str(2)},
              {"app_display_name", row.str(3)},
              {"device_display_name", row.str(4)},
              {"lang", row.str(6)},
              {"data", json::parse(row.str(7))}};
    if (!row.is_null(5)) p["profile_tag"] = row.str(5);
    out.push_back(std::move(p));
  }
  return out;
}

void pushers_store::set(const std::string& user_id, const json& p, const std::string& device_id,
                        bool append, int64_t now_ms) {
  in_transaction(pool_, [&](connection& c) {
    std::string app_id = p["app_id"], pushkey = p["pushkey"];
    if (!append)
      c.exec("DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3",
             {app_id, pushkey, user_id});
    sql_value tag = p.contains("profile_tag") && p["profile_tag"].is_string()
                      ? sql_value{p["profile_tag"].get<std::string>()}
                      : sql_value{nullptr};
    c.exec("INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, "
           "device_display_name, profile_tag, lang, data, device_id, created_ts) VALUES ($1, $2, "
           "$3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (app_id, pushkey, user_id) DO "
           "UPDATE SET kind = excluded.kind, app_display_name = excluded.app_display_name, "
           "device_display_name = excluded.device_display_name, profile_tag = "
           "excluded.profile_tag, lang = excluded.lang, data = excluded.data, device_id = "
           "excluded.device_id",
           {user_id, app_id, pushkey, p["kind"].get<std::string>(),
            p["app_display_name"].get<std::string>(), p["device_display_name"].get<std::string>(),
            tag, p["lang"].get<std::string>(), p["data"].dump(), device_id, now_ms});
  });
}

bool pushers_store::remove(const std::string& user_id, const std::string& app_id,
                           const std::string& pushkey) {
  auto c = pool_.acquire();
  return c->exec("DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3",
                 {user_id, app_id, pushkey})
           .affected > 0;
}

void pushers_store::remove_for_devices(const std::string& user_id,
                                       const std::vector<std::string>& device_ids) {
  if (device_ids.empty()) return;
  in_transaction(pool_, [&](connection& c) {
    for (auto& d : device_ids)
      c.exec("DELETE FROM pushers WHERE user_id = $1 AND device_id = $2", {user_id, d});
  });
}

void pushers_store::remove_all(const std::string& user_id) {
  auto c = pool_.acquire();
  c->exec("DELETE FROM pushers WHERE user_id = $1", {user_id});
}

} // namespace axon::storage
