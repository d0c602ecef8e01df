// actors/http/services.hpp -- small thread-safe services request threads
// share: rate limits (rc_*), the access-token cache and user-interactive
// auth sessions.
#pragma once

#include "matrix/environment.hpp"
#include "storage/stores/ui_auth_store.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

namespace axon::http {

/// Token buckets keyed by (action, key), per Synapse's `rc_*` semantics:
/// `burst_count` actions at once, refilled at `per_second`.
class rate_limiter {
public:
  /// 0 when allowed (and counted, unless `update` is false), else
  /// milliseconds until it would be. `n`: how many actions (bytes, for
  /// remote_media_download_*).
  int64_t take(const std::string& action, const std::string& key, double per_second,
               double burst_count, double n = 1.0, bool update = true);
  /// Counts `n` actions done, allowed or not (what a download turned out
  /// to weigh): the bucket may go below zero and refills from there.
  void spend(const std::string& action, const std::string& key, double per_second, double burst_count,
             double n);

private:
  struct bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  /// The bucket of (action, key), refilled up to now (mu_ held).
  bucket& refilled(const std::string& action, const std::string& key, double per_second, double burst_count,
                   std::chrono::steady_clock::time_point now);
  std::mutex mu_;
  std::unordered_map<std::string, bucket> buckets_;
};

struct cached_token {
  std::string user_id, device_id;
};

/// token hash -> user; entries dropped on logout. Bounded.
class token_cache {
public:
  std::optional<cached_token> get(const std::string& token_hash);
  void put(const std::string& token_hash, cached_token t);
  void erase(const std::string& token_hash);
  void erase_user(const std::string& user_id);
  void clear();

private:
  std::mutex mu_;
  std::unordered_map<std::string, cached_token> map_;
};

/// User-interactive auth sessions (spec "User-interactive authentication
/// API"): the stages completed per session. In the database, so a session
/// begun through one instance can be finished through another.
class uia_sessions {
public:
  explicit uia_sessions(storage::pool& pool,
                        matrix::environment& env = matrix::system_environment())
    : store_(pool), env_(env) {}
  /// A new session remembering the request's parameters (`clientdict`).
  std::string create(const nlohmann::json& clientdict = nlohmann::json::object());
  bool exists(const std::string& session);
  void complete(const std::string& session, const std::string& stage);
  std::unordered_set<std::string> completed(const std::string& session);
  void remove(const std::string& session);
  /// The parameters the session remembers (an empty object when unknown).
  nlohmann::json clientdict(const std::string& session);
  void set_clientdict(const std::string& session, const nlohmann::json& clientdict);
  /// The server's notes on the session (Synapse's UIAuthSessionDataConstants).
  std::optional<std::string> data(const std::string& session, const std::string& key) {
    return store_.data(session, key);
  }
  void set_data(const std::string& session, const std::string& key, const std::string& value) {
    store_.set_data(session, key, value);
  }

private:
  /// Synapse's default `ui_auth.session_timeout`-independent expiry: 2 days.
  static constexpr int64_t session_lifetime_ms = 2LL * 24 * 3600 * 1000;
  storage::ui_auth_store store_;
  matrix::environment& env_;
};

} // namespace axon::http
