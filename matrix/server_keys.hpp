// matrix/server_keys.hpp -- a homeserver's published signing keys
// (server-server API, "Retrieving server keys": GET /_matrix/key/v2/server).
#pragma once

#include "matrix/crypto.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace axon::matrix {

/// A key a server no longer signs with, still published for checking what
/// it signed before.
struct old_verify_key {
  std::string key_id;     ///< "ed25519:<version>"
  std::string public_key; ///< 32 raw bytes
  int64_t expired_ts = 0; ///< ms since the epoch
};

/// The 32 raw bytes of an ed25519 public key given in base64 (padded or
/// not), or nullopt.
std::optional<std::string> ed25519_public_key(const std::string& b64);

/// This server's answer to /_matrix/key/v2/server: server_name,
/// verify_keys (the current key), old_verify_keys, valid_until_ts, signed
/// by the current key.
nlohmann::json own_server_keys(const std::string& server_name, const signing_key& key,
                               const std::vector<old_verify_key>& old, int64_t valid_until_ts);

/// Another server's keys, as read from its answer (or a notary's copy of it).
struct server_keys {
  std::string server_name;
  int64_t valid_until_ts = 0;
  std::map<std::string, std::string> verify_keys;  ///< key id -> 32 raw bytes
  std::map<std::string, old_verify_key> old_verify_keys;
};

/// Reads and checks `response` as `server_name`'s keys: its server_name is
/// that name, every verify key and old key is an ed25519 key (32 bytes of
/// base64; keys of other algorithms are skipped, as the spec lets servers
/// add them), valid_until_ts is an integer, and it is signed by
/// `server_name` with at least one of its verify_keys, every such
/// signature valid. nullopt, with the reason in `why`, otherwise.
std::optional<server_keys> check_server_keys(const nlohmann::json& response,
                                             const std::string& server_name, std::string* why = nullptr);

} // namespace axon::matrix
