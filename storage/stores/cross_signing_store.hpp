// storage/stores/cross_signing_store.hpp -- cross-signing keys and the
// signatures uploaded with /keys/signatures/upload (migration 010). Writes
// come only from the device_lists writer; reads from any request thread.
#pragma once

#include "storage/database.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

/// One uploaded signature: `user_id` signed with its key `key_id`
/// ("ed25519:...") the key `target_device_id` (a device id or a
/// cross-signing public key) of `target_user_id`.
struct cross_signing_signature {
  std::string user_id;
  std::string key_id;
  std::string target_user_id;
  std::string target_device_id;
  std::string signature;
};

class cross_signing_store {
public:
  explicit cross_signing_store(pool& p) : pool_(p) {}

  // ---- writes (the device_lists writer only) ----

  /// Stores the user's keys (keytype -> CrossSigningKey JSON text) in one
  /// transaction, replacing those of the same types; `stream_id` is the
  /// device_lists position of the change.
  void set_keys(const std::string& user_id, const std::map<std::string, std::string>& keys,
                int64_t stream_id);
  /// Stores the signatures in one transaction (a signature already stored
  /// for the same signer key and target is replaced).
  void add_signatures(const std::vector<cross_signing_signature>& sigs);

  // ---- reads ----

  /// The user's key of `keytype` ("master", "self_signing", "user_signing").
  std::optional<std::string> key(const std::string& user_id, const std::string& keytype);
  /// keytype -> key JSON text of every key of the user.
  std::map<std::string, std::string> keys(const std::string& user_id);
  /// Signatures on the target user's keys (devices and cross-signing keys).
  std::vector<cross_signing_signature> signatures_on(const std::string& target_user_id);

private:
  pool& pool_;
};

} // namespace axon::storage
