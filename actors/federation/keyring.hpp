// actors/federation/keyring.hpp -- other servers' signing keys: the ones
// stored (storage/stores/server_keys_store), refreshed when missing or not
// valid long enough from the `trusted_key_servers` (POST
// /_matrix/key/v2/query, each answer signed by the notary and by the server
// itself) and then from the server (GET /_matrix/key/v2/server), as
// Synapse's Keyring orders its fetchers. The notary endpoint answers from
// it too. Blocking, for request threads; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace axon::config { struct homeserver_config; }
namespace axon::matrix {
class environment;
struct signing_key;
} // namespace axon::matrix
namespace axon::storage { class pool; }

namespace axon::federation {

class federation_client;

class keyring {
public:
  keyring(const config::homeserver_config& cfg, const matrix::signing_key& key, storage::pool& pool,
          federation_client& client, matrix::environment& env);

  /// The public key (32 raw bytes) `server` signs with as `key_id`, valid
  /// at `valid_at_ms` (a current key's valid_until_ts, at most 7 days after
  /// it was fetched as the spec requires, or an old key's expired_ts, at or
  /// after it); fetched when not known so. nullopt, the reason in `why`,
  /// when none is found. This server's own keys come from its config.
  std::optional<std::string> verify_key(const std::string& server, const std::string& key_id,
                                        int64_t valid_at_ms, std::string* why = nullptr);

  /// The notary's answer for `server` (GET/POST /_matrix/key/v2/query):
  /// the key answers stored from the server itself, for `key_ids` (all when
  /// empty), fetched from it first when none is valid until
  /// `minimum_valid_until_ts`; each with this server's signature added.
  std::vector<nlohmann::json> notary_answers(const std::string& server, const std::vector<std::string>& key_ids,
                                             int64_t minimum_valid_until_ts);

private:
  /// The stored key's public bytes if valid at `valid_at_ms` (remembered
  /// in memory once read).
  std::optional<std::string> stored(const std::string& server, const std::string& key_id, int64_t valid_at_ms);
  bool fetch_direct(const std::string& server, std::string* why);
  bool fetch_from_notaries(const std::string& server, const std::string& key_id, int64_t valid_at_ms,
                           std::string* why);
  /// A server whose fetch failed is not asked again for a while.
  bool backing_off(const std::string& server);
  void failed(const std::string& server);

  const config::homeserver_config& cfg_;
  const matrix::signing_key& key_;
  storage::pool& pool_;
  federation_client& client_;
  matrix::environment& env_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> failed_until_;
  struct known_key {
    std::string public_key;
    int64_t until = 0; ///< trusted up to (stored's rules)
  };
  /// "server\nkey id" -> the stored key, as last read.
  std::unordered_map<std::string, known_key> known_;
};

} // namespace axon::federation
