// storage/stores/accounts_store.hpp -- users, devices, access tokens,
// profiles, filters and registration nonces.
#pragma once

#include "storage/database.hpp"

#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct user_row {
  std::string name;
  std::string password_hash; ///< empty when the account has no password
  bool admin = false;
  bool deactivated = false;
};

struct token_row {
  std::string user_id;
  std::string device_id;
};

struct device_row {
  std::string device_id;
  std::optional<std::string> display_name;
  std::optional<int64_t> last_seen;
};

struct profile_row {
  std::optional<std::string> displayname;
  std::optional<std::string> avatar_url;
};

class accounts_store {
public:
  explicit accounts_store(pool& p) : pool_(p) {}

  /// False when the user id is taken.
  bool create_user(const std::string& user_id, const std::string& password_hash, bool admin,
                   int64_t now_ms);
  std::optional<user_row> get_user(const std::string& user_id);
  bool user_exists(const std::string& user_id) { return get_user(user_id).has_value(); }
  void set_password_hash(const std::string& user_id, const std::string& hash);
  /// Marks the account deactivated and removes its password.
  void deactivate(const std::string& user_id);

  /// Creates the device, or keeps an existing one with that id.
  void upsert_device(const std::string& user_id, const std::string& device_id,
                     const std::optional<std::string>& display_name, int64_t now_ms);
  /// Stores only the token's hash (`token_hash` is computed by the caller).
  void add_access_token(const std::string& token_hash, const std::string& user_id,
                        const std::string& device_id, int64_t now_ms);
  std::optional<token_row> find_token(const std::string& token_hash);
  /// Deletes the token and its device (Synapse's logout semantics).
  void delete_token_and_device(const std::string& token_hash);
  /// Deletes every token and device of the user.
  void delete_all_tokens_and_devices(const std::string& user_id);

  std::vector<device_row> devices(const std::string& user_id);
  std::optional<device_row> device(const std::string& user_id, const std::string& device_id);
  /// False when the device does not exist.
  bool set_device_display_name(const std::string& user_id, const std::string& device_id,
                               const std::optional<std::string>& display_name);
  /// Deletes the devices and their access tokens in one transaction; returns
  /// the hashes of the deleted tokens (for the token cache).
  std::vector<std::string> delete_devices(const std::string& user_id,
                                          const std::vector<std::string>& device_ids);

  profile_row get_profile(const std::string& user_id);
  void set_displayname(const std::string& user_id, const std::optional<std::string>& v);
  void set_avatar_url(const std::string& user_id, const std::optional<std::string>& v);

  /// Stores a filter and returns its id (per user, from 0).
  int64_t add_filter(const std::string& user_id, const std::string& filter_json);
  std::optional<std::string> get_filter(const std::string& user_id, int64_t filter_id);

  void add_nonce(const std::string& nonce, int64_t now_ms);
  /// True once for a nonce younger than `max_age_ms`; removes it.
  bool consume_nonce(const std::string& nonce, int64_t now_ms, int64_t max_age_ms);

private:
  pool& pool_;
};

} // namespace axon::storage
