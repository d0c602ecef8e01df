#include "storage/stores/ui_auth_store.hpp"

#include <nlohmann/json.hpp>

namespace axon::storage {

void ui_auth_store::create(const std::string& session, int64_t now_ms, int64_t expire_before_ms,
                           const std::string& clientdict) {
  in_transaction(pool_, [&](connection& c) {
    c.exec("DELETE FROM ui_auth_sessions_credentials WHERE session_id IN (SELECT session_id FROM "
           "ui_auth_sessions WHERE creation_time < $1)",
           {expire_before_ms});
    c.exec("DELETE FROM ui_auth_sessions WHERE creation_time < $1", {expire_before_ms});
    c.exec("INSERT INTO ui_auth_sessions (session_id, creation_time, clientdict, serverdict) "
           "VALUES ($1, $2, $3, '{}')",
           {session, now_ms, clientdict});
  });
}

bool ui_auth_store::exists(const std::string& session) {
  auto c = pool_.acquire();
  return !c->exec("SELECT 1 FROM ui_auth_sessions WHERE session_id = $1", {session}).empty();
}

void ui_auth_store::complete(const std::string& session, const std::string& stage) {
  auto c = pool_.acquire();
  c->exec("INSERT INTO ui_auth_sessions_credentials (session_id, stage_type) SELECT session_id, $2 "
          "FROM ui_auth_sessions WHERE session_id = $1 ON CONFLICT DO NOTHING",
          {session, stage});
}

std::unordered_set<std::string> ui_auth_store::completed(const std::string& session) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT stage_type FROM ui_auth_sessions_credentials WHERE session_id = $1",
                   {session});
  std::unordered_set<std::string> out;
  for (auto& row : r.rows) out.insert(row.str(0));
  return out;
}

void ui_auth_store::remove(const std::string& session) {
  in_transaction(pool_, [&](connection& c) {
    c.exec("DELETE FROM ui_auth_sessions_credentials WHERE session_id = $1", {session});
    c.exec("DELETE FROM ui_auth_sessions WHERE session_id = $1", {session});
  });
}

std::optional<std::string> ui_auth_store::clientdict(const std::string& session) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT clientdict FROM ui_auth_sessions WHERE session_id = $1", {session});
  if (r.empty()) return std::nullopt;
  return r.rows[0].str_or(0, "{}");
}

void ui_auth_store::set_clientdict(const std::string& session, const std::string& clientdict) {
  auto c = pool_.acquire();
  c->exec("UPDATE ui_auth_sessions SET clientdict = $2 WHERE session_id = $1", {session, clientdict});
}

std::optional<std::string> ui_auth_store::data(const std::string& session, const std::string& key) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT serverdict FROM ui_auth_sessions WHERE session_id = $1", {session});
  if (r.empty()) return std::nullopt;
  auto d = nlohmann::json::parse(r.rows[0].str_or(0, "{}"), nullptr, false);
  if (!d.is_object()) return std::nullopt;
  auto i = d.find(key);
  if (i == d.end() || !i->is_string()) return std::nullopt;
  return i->get<std::string>();
}

void ui_auth_store::set_data(const std::string& session, const std::string& key,
                             const std::string& value) {
  in_transaction(pool_, [&](connection& c) {
    auto r = c.exec("SELECT serverdict FROM ui_auth_sessions WHERE session_id = $1", {session});
    if (r.empty()) return;
    auto d = nlohmann::json::parse(r.rows[0].str_or(0, "{}"), nullptr, false);
    if (!d.is_object()) d = nlohmann::json::object();
    d[key] = value;
    c.exec("UPDATE ui_auth_sessions SET serverdict = $2 WHERE session_id = $1", {session, d.dump()});
  });
}

} // namespace axon::storage
