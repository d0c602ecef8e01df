// storage/stores/room_keys_store.hpp -- server-side key backups (/room_keys):
// backup versions and the room keys stored in them. Spec: client-server API
// "End-to-End Encryption" > "Server-side key backups"; tables as Synapse's
// e2e_room_keys_versions and e2e_room_keys (migration 011).
//
// Every write runs in one transaction that first locks the user's row in
// e2e_room_keys_locks, so concurrent requests of one user apply one after the
// other: counts, etags and the replacement rule stay consistent on both
// engines.
#pragma once

#include "matrix/room_keys.hpp"
#include "storage/database.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace axon::storage {

/// A backup version as GET /room_keys/version/{version} shows it.
struct backup_version {
  std::string version;
  std::string algorithm;
  nlohmann::json auth_data;
  int64_t count = 0;
  std::string etag;
};

/// room id -> session id -> key.
using room_key_map = std::map<std::string, std::map<std::string, matrix::room_key>>;

/// The outcome of a write to the keys of a version.
struct room_keys_write {
  enum class status {
    ok,
    not_found,     ///< no such (non-deleted) version, or no current one
    wrong_version, ///< exists, but writes go to `current_version` only
  } result = status::ok;
  std::string etag;            ///< when ok
  int64_t count = 0;           ///< when ok
  std::string current_version; ///< when wrong_version
};

class room_keys_store {
public:
  explicit room_keys_store(pool& p) : pool_(p) {}

  /// Creates the user's next version (1, 2, ...; never reused), which becomes
  /// the current one. `auth_data` is JSON object text.
  std::string create_version(const std::string& user_id, const std::string& algorithm,
                             const std::string& auth_data);
  /// The version, or the current one (newest not deleted) when `version` is
  /// nullopt; nullopt when there is none or it was deleted.
  std::optional<backup_version> get_version(const std::string& user_id,
                                            const std::optional<std::string>& version);

  enum class update_result { ok, not_found, algorithm_mismatch };
  /// Replaces auth_data of a non-deleted version whose algorithm is `algorithm`.
  update_result update_version(const std::string& user_id, const std::string& version,
                               const std::string& algorithm, const std::string& auth_data);

  enum class delete_result { deleted, already_deleted, not_found };
  /// Marks the version deleted and removes its keys.
  delete_result delete_version(const std::string& user_id, const std::string& version);

  /// Merges `keys` into the current version `version` by the spec's rule
  /// (matrix::should_replace_room_key); the etag moves when anything changed.
  room_keys_write put_keys(const std::string& user_id, const std::string& version,
                           const room_key_map& keys);
  /// The keys of a non-deleted version, optionally of one room or one session
  /// of it, as {"rooms": {room: {"sessions": {session: KeyBackupData}}}};
  /// nullopt when the version does not exist.
  std::optional<nlohmann::json> get_keys(const std::string& user_id, const std::string& version,
                                         const std::optional<std::string>& room_id,
                                         const std::optional<std::string>& session_id);
  /// Deletes keys of a non-deleted version (all, a room's, or one session);
  /// the etag moves when anything was deleted. Never wrong_version.
  room_keys_write delete_keys(const std::string& user_id, const std::string& version,
                              const std::optional<std::string>& room_id,
                              const std::optional<std::string>& session_id);

private:
  pool& pool_;
};

} // namespace axon::storage
