#include "storage/stores/ui_auth_store.hpp"

namespace axon::storage {

void ui_auth_store::create(const std::string& session, int64_t now_ms, int64_t expire_before_ms) {
  in_transaction(pool_, [&](connection& c) {
    c.exec("DELETE FROM ui_auth_sessions_credentials WHERE session_id IN (SELECT session_id FROM "
           "ui_auth_sessions WHERE creation_time < $1)",
           {expire_before_ms});
    c.exec("DELETE FROM ui_auth_sessions WHERE creation_time < $1", {expire_before_ms});
    c.exec("INSERT INTO ui_auth_sessions (session_id, creation_time) VALUES ($1, $2)",
           {session, now_ms});
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

} // namespace axon::storage
