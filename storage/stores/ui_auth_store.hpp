// storage/stores/ui_auth_store.hpp -- user-interactive auth sessions and the
// stages completed in each (migration 013), and what each remembers between
// requests (migration 015).
#pragma once

#include "storage/database.hpp"

#include <optional>
#include <string>
#include <unordered_set>

namespace axon::storage {

class ui_auth_store {
public:
  explicit ui_auth_store(pool& p) : pool_(p) {}

  /// Creates `session` at `now_ms` with the request's parameters
  /// (`clientdict`, JSON text); sessions older than `expire_before_ms` are
  /// deleted on the way.
  void create(const std::string& session, int64_t now_ms, int64_t expire_before_ms,
              const std::string& clientdict = "{}");
  bool exists(const std::string& session);
  /// Records a completed stage (an unknown session gets nothing).
  void complete(const std::string& session, const std::string& stage);
  std::unordered_set<std::string> completed(const std::string& session);
  void remove(const std::string& session);

  /// The parameters stored with the session (JSON text); nullopt for an
  /// unknown session.
  std::optional<std::string> clientdict(const std::string& session);
  void set_clientdict(const std::string& session, const std::string& clientdict);
  /// One value of the server's notes on the session (Synapse's
  /// get_ui_auth_session_data); nullopt when unset or the session is unknown.
  std::optional<std::string> data(const std::string& session, const std::string& key);
  /// Sets one value of the notes, keeping the others.
  void set_data(const std::string& session, const std::string& key, const std::string& value);

private:
  pool& pool_;
};

} // namespace axon::storage
