#include "storage/stores/client_ips_store.hpp"

#include <algorithm>
#include <chrono>

namespace axon::storage {

namespace {

client_ip_row read(const row& r) {
  client_ip_row out;
  out.user_id = r.str(0);
  out.access_token = r.str(1);
  if (!r.is_null(2)) out.device_id = r.str(2);
  out.ip = r.str(3);
  out.user_agent = r.str(4);
  out.last_seen = r.i64(5);
  return out;
}

} // namespace

void client_ips_store::insert_batch(const std::vector<client_ip_row>& rows) {
  if (rows.empty()) return;
  in_transaction(pool_, [&](connection& c) {
    for (auto& r : rows)
      c.exec("INSERT INTO user_ips (user_id, access_token, device_id, ip, user_agent, last_seen) "
             "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, access_token, ip) DO UPDATE "
             "SET device_id = excluded.device_id, user_agent = excluded.user_agent, last_seen = "
             "excluded.last_seen WHERE user_ips.last_seen <= excluded.last_seen",
             {r.user_id, r.access_token,
              r.device_id ? sql_value{*r.device_id} : sql_value{nullptr}, r.ip, r.user_agent,
              r.last_seen});
  });
}

std::map<std::string, client_ip_row> client_ips_store::last_seen_by_device(
  const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT user_id, access_token, device_id, ip, user_agent, last_seen FROM "
                   "user_ips WHERE user_id = $1 AND device_id IS NOT NULL ORDER BY last_seen",
                   {user_id});
  std::map<std::string, client_ip_row> out;
  for (auto& row : r.rows) {
    auto x = read(row);
    out[*x.device_id] = std::move(x); // ascending: the last one wins
  }
  return out;
}

std::vector<client_ip_row> client_ips_store::for_user(const std::string& user_id) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT user_id, access_token, device_id, ip, user_agent, last_seen FROM "
                   "user_ips WHERE user_id = $1 ORDER BY last_seen DESC",
                   {user_id});
  std::vector<client_ip_row> out;
  for (auto& row : r.rows) out.push_back(read(row));
  return out;
}

void client_ips_store::prune(int64_t before_ms) {
  auto c = pool_.acquire();
  c->exec("DELETE FROM user_ips WHERE last_seen < $1", {before_ms});
}

// ---- client_ips ------------------------------------------------------------------

namespace {

std::string joined(std::initializer_list<const std::string*> parts) {
  std::string out;
  for (auto* p : parts) {
    out += *p;
    out += '\0';
  }
  return out;
}

} // namespace

client_ips::~client_ips() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  try {
    flush();
  } catch (const std::exception&) {
    // The database is gone: these last sightings are lost, as in Synapse.
  }
}

void client_ips::record(const std::string& user_id, const std::string& token_hash,
                        const std::string& device_id, const std::string& ip,
                        const std::string& user_agent) {
  auto now = now_ms_();
  std::lock_guard<std::mutex> g(mu_);
  auto memo_key = joined({&token_hash, &ip, &user_agent});
  if (auto i = memo_.find(memo_key); i != memo_.end() && now - i->second < granularity_ms) return;
  if (memo_.size() >= memo_limit) memo_.clear();
  memo_[memo_key] = now;
  auto& row = pending_[joined({&user_id, &token_hash, &ip})];
  row.user_id = user_id;
  row.access_token = token_hash;
  row.device_id = device_id.empty() ? std::nullopt : std::optional<std::string>(device_id);
  row.ip = ip;
  row.user_agent = user_agent;
  row.last_seen = now;
}

void client_ips::flush() {
  std::map<std::string, client_ip_row> batch;
  {
    std::lock_guard<std::mutex> g(mu_);
    batch.swap(pending_);
  }
  std::vector<client_ip_row> rows;
  for (auto& [_, r] : batch) rows.push_back(r);
  try {
    store_.insert_batch(rows);
  } catch (...) {
    // Put them back unless newer sightings replaced them meanwhile.
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [k, r] : batch) pending_.try_emplace(k, std::move(r));
    throw;
  }
  // The newest sighting's time, not the clock: the flusher thread never
  // reads the instance clock (a simulation's is not thread-safe).
  int64_t now = 0;
  for (auto& r : rows) now = std::max(now, r.last_seen);
  bool prune = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    prune = now > 0 && now - last_prune_ >= 3600 * 1000;
    if (prune) last_prune_ = now;
  }
  if (prune) store_.prune(now - max_age_ms);
}

void client_ips::start(int64_t interval_ms) {
  thread_ = std::thread([this, interval_ms] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(interval_ms), [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      try {
        flush();
      } catch (const std::exception&) {
        // Kept for the next round (a database restart, say).
      }
      lock.lock();
    }
  });
}

std::map<std::string, client_ip_row> client_ips::last_seen_by_device(const std::string& user_id) {
  auto out = store_.last_seen_by_device(user_id);
  std::lock_guard<std::mutex> g(mu_);
  for (auto& [_, r] : pending_) {
    if (r.user_id != user_id || !r.device_id) continue;
    auto i = out.find(*r.device_id);
    if (i == out.end() || i->second.last_seen <= r.last_seen) out[*r.device_id] = r;
  }
  return out;
}

std::vector<client_ip_row> client_ips::for_user(const std::string& user_id) {
  auto stored = store_.for_user(user_id);
  std::map<std::pair<std::string, std::string>, client_ip_row> merged;
  for (auto& r : stored) merged[{r.access_token, r.ip}] = r;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [_, r] : pending_)
      if (r.user_id == user_id) merged[{r.access_token, r.ip}] = r;
  }
  std::vector<client_ip_row> out;
  for (auto& [_, r] : merged) out.push_back(r);
  std::sort(out.begin(), out.end(),
            [](const client_ip_row& a, const client_ip_row& b) { return a.last_seen > b.last_seen; });
  return out;
}

size_t client_ips::pending() const {
  std::lock_guard<std::mutex> g(mu_);
  return pending_.size();
}

} // namespace axon::storage
