#include "actors/http/services.hpp"

#include <chrono>

#include "matrix/crypto.hpp"

#include <algorithm>
#include <cmath>

namespace axon::http {

namespace {
constexpr size_t max_buckets = 100000;
} // namespace

int64_t rate_limiter::take(const std::string& action, const std::string& key, double per_second,
                           double burst_count, double n, bool update) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> g(mu_);
  auto& b = refilled(action, key, per_second, burst_count, now);
  if (b.tokens >= n) {
    if (update) b.tokens -= n;
    return 0;
  }
  if (per_second <= 0) return 60 * 1000;
  return static_cast<int64_t>(std::ceil((n - b.tokens) / per_second * 1000.0));
}

void rate_limiter::spend(const std::string& action, const std::string& key, double per_second, double burst_count,
                         double n) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> g(mu_);
  refilled(action, key, per_second, burst_count, now).tokens -= n;
}

rate_limiter::bucket& rate_limiter::refilled(const std::string& action, const std::string& key, double per_second,
                                             double burst_count, std::chrono::steady_clock::time_point now) {
  auto k = action + '\n' + key;
  if (buckets_.size() > max_buckets) {
    // Bounded memory: with this many keys, forget those idle for ten
    // minutes (a slowly refilling bucket, e.g. rc_login, may be reset early).
    for (auto j = buckets_.begin(); j != buckets_.end();)
      j = now - j->second.at > std::chrono::minutes(10) ? buckets_.erase(j) : std::next(j);
  }
  auto i = buckets_.find(k);
  if (i == buckets_.end()) i = buckets_.emplace(k, bucket{burst_count, now}).first;
  auto& b = i->second;
  double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_count, b.tokens + elapsed * per_second);
  b.at = now;
  return b;
}

std::optional<cached_token> token_cache::get(const std::string& token_hash) {
  std::lock_guard<std::mutex> g(mu_);
  auto i = map_.find(token_hash);
  if (i == map_.end()) return std::nullopt;
  return i->second;
}

void token_cache::put(const std::string& token_hash, cached_token t) {
  std::lock_guard<std::mutex> g(mu_);
  if (map_.size() > 100000) map_.clear(); // bounded; misses only cost a lookup
  map_[token_hash] = std::move(t);
}

void token_cache::erase(const std::string& token_hash) {
  std::lock_guard<std::mutex> g(mu_);
  map_.erase(token_hash);
}

void token_cache::erase_user(const std::string& user_id) {
  std::lock_guard<std::mutex> g(mu_);
  for (auto i = map_.begin(); i != map_.end();)
    i = i->second.user_id == user_id ? map_.erase(i) : std::next(i);
}

void token_cache::clear() {
  std::lock_guard<std::mutex> g(mu_);
  map_.clear();
}

std::string uia_sessions::create(const nlohmann::json& clientdict) {
  auto s = matrix::random_string(24, env_);
  auto now = env_.now_ms();
  store_.create(s, now, now - session_lifetime_ms, clientdict.dump());
  return s;
}

nlohmann::json uia_sessions::clientdict(const std::string& session) {
  auto text = store_.clientdict(session);
  auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json::object();
  return j.is_object() ? j : nlohmann::json::object();
}

void uia_sessions::set_clientdict(const std::string& session, const nlohmann::json& clientdict) {
  store_.set_clientdict(session, clientdict.dump());
}

bool uia_sessions::exists(const std::string& session) { return store_.exists(session); }

void uia_sessions::complete(const std::string& session, const std::string& stage) {
  store_.complete(session, stage);
}

std::unordered_set<std::string> uia_sessions::completed(const std::string& session) {
  return store_.completed(session);
}

void uia_sessions::remove(const std::string& session) { store_.remove(session); }

} // namespace axon::http
