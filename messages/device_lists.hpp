// messages/device_lists.hpp -- requests to the device_lists writer, which
// owns device keys, one-time keys, fallback keys and the device_lists stream.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace axon::msg {

/// POST /keys/upload after validation: stores the device's keys (each part
/// JSON text, "" when absent). Replies with the device_lists position (moved
/// only when the device keys changed). A one-time key id that exists with
/// other content fails with M_INVALID_PARAM and nothing is stored.
struct upload_keys {
  std::string user_id;
  std::string device_id;
  std::string device_keys;   ///< DeviceKeys object, or ""
  std::string one_time_keys; ///< {"alg:id": key}, or ""
  std::string fallback_keys; ///< {"alg:id": key}, or ""
  static constexpr const char* wire_name = "upload_keys";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_keys& x) {
  return f(caf::meta::type_name("upload_keys"), x.user_id, x.device_id, x.device_keys,
           x.one_time_keys, x.fallback_keys);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(upload_keys, user_id, device_id, device_keys, one_time_keys,
                                   fallback_keys)

/// POST /keys/claim: `claims` is {user_id: {device_id: algorithm}} (JSON
/// text, local users only). Each one-time key is handed out once; a device
/// without one gives its fallback key (marked used).
struct claim_keys {
  std::string claims;
  static constexpr const char* wire_name = "claim_keys";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim_keys& x) {
  return f(caf::meta::type_name("claim_keys"), x.claims);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(claim_keys, claims)

/// The keys claimed: {user_id: {device_id: {"alg:id": key}}} as JSON text.
struct claim_keys_reply {
  std::string one_time_keys;
  static constexpr const char* wire_name = "claim_keys_reply";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim_keys_reply& x) {
  return f(caf::meta::type_name("claim_keys_reply"), x.one_time_keys);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(claim_keys_reply, one_time_keys)

/// The user's devices changed (deleted: their keys go too; renamed; new):
/// advances device_lists. Replies with the position.
struct device_list_changed {
  std::string user_id;
  std::vector<std::string> device_ids;
  bool deleted = false; ///< the devices are gone: delete their keys
  static constexpr const char* wire_name = "device_list_changed";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_list_changed& x) {
  return f(caf::meta::type_name("device_list_changed"), x.user_id, x.device_ids, x.deleted);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(device_list_changed, user_id, device_ids, deleted)

/// POST /keys/device_signing/upload after validation: stores the user's
/// cross-signing keys (each CrossSigningKey JSON text, "" when absent) and
/// advances device_lists for the user. Replies with the position.
struct upload_cross_signing_keys {
  std::string user_id;
  std::string master_key;
  std::string self_signing_key;
  std::string user_signing_key;
  static constexpr const char* wire_name = "upload_cross_signing_keys";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_cross_signing_keys& x) {
  return f(caf::meta::type_name("upload_cross_signing_keys"), x.user_id, x.master_key,
           x.self_signing_key, x.user_signing_key);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(upload_cross_signing_keys, user_id, master_key,
                                   self_signing_key, user_signing_key)

/// POST /keys/signatures/upload after verification: `signatures` is a JSON
/// array of {"key_id", "target_user_id", "target_device_id", "signature"}
/// made by `user_id`. Stores them and advances device_lists for each target
/// user. Replies with the position.
struct upload_signatures {
  std::string user_id;
  std::string signatures;
  static constexpr const char* wire_name = "upload_signatures";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_signatures& x) {
  return f(caf::meta::type_name("upload_signatures"), x.user_id, x.signatures);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(upload_signatures, user_id, signatures)

} // namespace axon::msg
