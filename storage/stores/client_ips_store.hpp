// storage/stores/client_ips_store.hpp -- user_ips (migration 016): where and
// with what each access token was last used (Synapse's ClientIpStore).
#pragma once

#include "storage/database.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace axon::storage {

struct client_ip_row {
  std::string user_id;
  std::string access_token; ///< the token's hash
  std::optional<std::string> device_id;
  std::string ip;
  std::string user_agent;
  int64_t last_seen = 0;
};

class client_ips_store {
public:
  explicit client_ips_store(pool& p) : pool_(p) {}

  /// Upserts the rows in one transaction: per (user_id, access_token, ip)
  /// the newest user agent, device and time.
  void insert_batch(const std::vector<client_ip_row>& rows);
  /// Each device's most recent row (devices without one are absent).
  std::map<std::string, client_ip_row> last_seen_by_device(const std::string& user_id);
  /// Every row of the user, most recent first.
  std::vector<client_ip_row> for_user(const std::string& user_id);
  /// Deletes rows last seen before `before_ms` (Synapse's user_ips_max_age).
  void prune(int64_t before_ms);

private:
  pool& pool_;
};

/// Every authenticated request's (user, token, device, address, user agent),
/// batched into user_ips as Synapse's insert_client_ip does: a use of the same
/// token from the same address with the same user agent within
/// `granularity_ms` of the last one recorded is not recorded again, and the
/// rows wait in memory until flush() (every `flush_interval` on the thread
/// start() runs). Reads merge the rows not yet written. Thread-safe.
class client_ips {
public:
  /// Synapse's LAST_SEEN_GRANULARITY.
  static constexpr int64_t granularity_ms = 120 * 1000;
  /// Synapse's default user_ips_max_age: 28 days.
  static constexpr int64_t max_age_ms = 28LL * 24 * 3600 * 1000;
  /// Entries of the "recently recorded" memo before it is cleared.
  static constexpr size_t memo_limit = 50000;

  /// `now_ms` is the instance clock.
  client_ips(pool& p, std::function<int64_t()> now_ms) : store_(p), now_ms_(std::move(now_ms)) {}
  ~client_ips(); ///< stops the thread and writes what is pending
  client_ips(const client_ips&) = delete;
  client_ips& operator=(const client_ips&) = delete;

  void record(const std::string& user_id, const std::string& token_hash,
              const std::string& device_id, const std::string& ip, const std::string& user_agent);
  /// Writes the pending rows (and, once an hour, prunes rows older than
  /// max_age_ms). A failed write keeps them for the next flush.
  void flush();
  /// Flushes every `interval_ms` on a thread of its own until destruction.
  void start(int64_t interval_ms = 5000);

  std::map<std::string, client_ip_row> last_seen_by_device(const std::string& user_id);
  std::vector<client_ip_row> for_user(const std::string& user_id);
  size_t pending() const;

private:
  client_ips_store store_;
  std::function<int64_t()> now_ms_;
  mutable std::mutex mu_;
  /// (token hash, ip, user agent) -> when last recorded.
  std::unordered_map<std::string, int64_t> memo_;
  /// (user, token hash, ip) -> the row to write.
  std::map<std::string, client_ip_row> pending_;
  int64_t last_prune_ = 0;
  std::thread thread_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

} // namespace axon::storage
