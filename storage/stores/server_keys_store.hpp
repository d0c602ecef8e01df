// storage/stores/server_keys_store.hpp -- other servers' signing keys
// (migration 017; Synapse's KeyStore): what the key fetcher stores after
// checking an answer, what signature checks read.
#pragma once

#include "matrix/server_keys.hpp"
#include "storage/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

/// One stored public key.
struct stored_server_key {
  std::string server_name;
  std::string key_id;
  std::string public_key;    ///< 32 raw bytes
  int64_t valid_until_ts = 0; ///< a current key's answer's valid_until_ts; an old key's expired_ts
  std::string from_server;   ///< the server itself, or the notary it came through
  int64_t added_ts = 0;
};

/// One stored answer, as it was signed.
struct stored_key_answer {
  std::string key_id;
  std::string from_server;
  int64_t valid_until_ts = 0;
  std::string json;
};

class server_keys_store {
public:
  explicit server_keys_store(pool& p) : pool_(p) {}

  /// Stores the keys of `keys`, an answer already checked
  /// (matrix::check_server_keys) whose text is `answer_json`, received
  /// from `from_server` at `now_ms`, in one transaction. A key already
  /// known is replaced only by one valid at least as long, so a stale
  /// answer (a notary's old copy) never shortens what is known.
  void store(const matrix::server_keys& keys, const std::string& answer_json,
             const std::string& from_server, int64_t now_ms);

  /// The key, if known (whatever its validity: the caller compares
  /// valid_until_ts with the time the signature must hold at).
  std::optional<stored_server_key> key(const std::string& server_name, const std::string& key_id);

  /// The answers stored for `server_name` (for `key_id` only, when given),
  /// newest validity first.
  std::vector<stored_key_answer> answers(const std::string& server_name,
                                         const std::string& key_id = "");

private:
  pool& pool_;
};

} // namespace axon::storage
