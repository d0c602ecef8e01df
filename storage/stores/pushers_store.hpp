// storage/stores/pushers_store.hpp -- the pushers registry.
#pragma once

#include "storage/database.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace axon::storage {

class pushers_store {
public:
  explicit pushers_store(pool& p) : pool_(p) {}

  /// The user's pushers in the GET /pushers format.
  std::vector<nlohmann::json> for_user(const std::string& user_id);
  /// Adds or replaces (app_id, pushkey) for the user; unless `append`, the
  /// same (app_id, pushkey) registered by other users is removed (spec).
  void set(const std::string& user_id, const nlohmann::json& pusher, const std::string& device_id,
           bool append, int64_t now_ms);
  /// Removes the user's pusher; false when there was none.
  bool remove(const std::string& user_id, const std::string& app_id, const std::string& pushkey);
  void remove_all(const std::string& user_id);
  /// Removes the pushers the user registered through these devices' access
  /// tokens (Synapse's remove_pushers_by_access_token, run whenever tokens
  /// are deleted: logout, device deletion, password change).
  void remove_for_devices(const std::string& user_id, const std::vector<std::string>& device_ids);

private:
  pool& pool_;
};

} // namespace axon::storage
