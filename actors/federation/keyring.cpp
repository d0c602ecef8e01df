// actors/federation/keyring.cpp -- see keyring.hpp.
#include "actors/federation/keyring.hpp"

#include "actors/federation/federation_client.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/environment.hpp"
#include "matrix/server_keys.hpp"
#include "matrix/signing.hpp"
#include "storage/stores/server_keys_store.hpp"

#include <algorithm>
#include <iostream>
#include <set>

namespace axon::federation {

using nlohmann::json;

namespace {

/// Spec ("Retrieving server keys"): a key is trusted at most 7 days past
/// the time it was fetched, whatever its valid_until_ts says.
constexpr int64_t max_trust_ms = 7LL * 24 * 3600 * 1000;
/// A server whose keys could not be fetched is not asked again this soon
/// (a flood of requests naming it must not become a flood of fetches).
constexpr int64_t failure_backoff_ms = 10 * 1000;
constexpr int64_t fetch_timeout_ms = 10 * 1000;
/// Keys remembered in memory at most (then forgotten all at once).
constexpr size_t max_known_keys = 10000;

bool refuse(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

} // namespace

keyring::keyring(const config::homeserver_config& cfg, const matrix::signing_key& key, storage::pool& pool,
                 federation_client& client, matrix::environment& env)
  : cfg_(cfg), key_(key), pool_(pool), client_(client), env_(env) {}

bool keyring::backing_off(const std::string& server) {
  std::lock_guard<std::mutex> lock(mu_);
  auto i = failed_until_.find(server);
  return i != failed_until_.end() && i->second > env_.now_ms();
}

void keyring::failed(const std::string& server) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_until_.size() > 10000) failed_until_.clear();
  failed_until_[server] = env_.now_ms() + failure_backoff_ms;
}

std::optional<std::string> keyring::stored(const std::string& server, const std::string& key_id,
                                           int64_t valid_at_ms) {
  // Every signed request asks: memory first. What is remembered is used
  // only while it was valid when read (a stored key only ever gains
  // validity); past that the database is asked again.
  auto name = server + '\n' + key_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto i = known_.find(name); i != known_.end() && i->second.until >= valid_at_ms) return i->second.public_key;
  }
  auto k = storage::server_keys_store(pool_).key(server, key_id);
  if (!k) return std::nullopt;
  auto until = std::min(k->valid_until_ts, k->added_ts + max_trust_ms);
  // An old key's expired_ts is already in the past of its fetch.
  if (k->valid_until_ts < k->added_ts) until = k->valid_until_ts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (known_.size() > max_known_keys) known_.clear();
    known_[name] = {k->public_key, until};
  }
  if (until < valid_at_ms) return std::nullopt;
  return k->public_key;
}

bool keyring::fetch_direct(const std::string& server, std::string* why) {
  auto r = client_.request(server, "GET", "/_matrix/key/v2/server", nullptr, false, fetch_timeout_ms);
  if (!r.ok())
    return refuse(why, "fetching the keys of " + server + ": " +
                         (r.status ? "HTTP " + std::to_string(r.status) : r.error));
  std::string reason;
  auto keys = matrix::check_server_keys(r.body, server, &reason);
  if (!keys) return refuse(why, "the keys of " + server + " are refused: " + reason);
  storage::server_keys_store(pool_).store(*keys, r.body.dump(), server, env_.now_ms());
  return true;
}

bool keyring::fetch_from_notaries(const std::string& server, const std::string& key_id, int64_t valid_at_ms,
                                  std::string* why) {
  bool any = false;
  for (auto& notary : cfg_.trusted_key_servers) {
    if (notary.server_name == server || notary.server_name == cfg_.server_name) continue;
    json query = {{"server_keys", {{server, {{key_id, {{"minimum_valid_until_ts", valid_at_ms}}}}}}}};
    auto r = client_.request(notary.server_name, "POST", "/_matrix/key/v2/query", query, true, fetch_timeout_ms);
    if (!r.ok() || !r.body.contains("server_keys") || !r.body["server_keys"].is_array()) {
      refuse(why, "asking " + notary.server_name + " for the keys of " + server + ": " +
                    (r.status ? "HTTP " + std::to_string(r.status) : r.error));
      continue;
    }
    for (auto& entry : r.body["server_keys"]) {
      if (!entry.is_object() || entry.value("server_name", json()) != json(server)) continue;
      // Signed by the notary, with a key its entry lists (or, when it lists
      // none, one it publishes itself)...
      bool notary_signed = false;
      auto sigs = entry.find("signatures");
      if (sigs != entry.end() && sigs->is_object() && sigs->contains(notary.server_name) &&
          (*sigs)[notary.server_name].is_object()) {
        for (auto& [kid, sig] : (*sigs)[notary.server_name].items()) {
          std::optional<std::string> pub;
          if (!notary.verify_keys.empty()) {
            auto k = notary.verify_keys.find(kid);
            if (k != notary.verify_keys.end()) pub = k->second;
          } else {
            pub = stored(notary.server_name, kid, env_.now_ms());
            if (!pub && fetch_direct(notary.server_name, nullptr)) pub = stored(notary.server_name, kid, env_.now_ms());
          }
          if (pub && matrix::verify_json(entry, notary.server_name, kid, *pub)) notary_signed = true;
        }
      }
      if (!notary_signed && !notary.accept_keys_insecurely) {
        refuse(why, notary.server_name + "'s answer for " + server + " is not signed with a key of " +
                      notary.server_name);
        continue;
      }
      // ... and by the server itself.
      std::string reason;
      auto keys = matrix::check_server_keys(entry, server, &reason);
      if (!keys) {
        refuse(why, notary.server_name + "'s copy of the keys of " + server + " is refused: " + reason);
        continue;
      }
      storage::server_keys_store(pool_).store(*keys, entry.dump(), notary.server_name, env_.now_ms());
      any = true;
    }
  }
  return any;
}

std::optional<std::string> keyring::verify_key(const std::string& server, const std::string& key_id,
                                               int64_t valid_at_ms, std::string* why) {
  if (server == cfg_.server_name) {
    if (key_id == key_.key_id()) return key_.public_key;
    for (auto& k : cfg_.old_signing_keys)
      if (k.key_id == key_id && k.expired_ts >= valid_at_ms) return k.public_key;
    refuse(why, "no key " + key_id + " of this server valid then");
    return std::nullopt;
  }
  if (auto k = stored(server, key_id, valid_at_ms)) return k;
  if (!client_.allowed(server)) {
    refuse(why, "federation with " + server + " is not allowed");
    return std::nullopt;
  }
  if (backing_off(server)) {
    refuse(why, "the keys of " + server + " could not be fetched lately");
    return std::nullopt;
  }
  std::string reason;
  if (fetch_from_notaries(server, key_id, valid_at_ms, &reason))
    if (auto k = stored(server, key_id, valid_at_ms)) return k;
  if (fetch_direct(server, &reason)) {
    if (auto k = stored(server, key_id, valid_at_ms)) return k;
    reason = "no key " + key_id + " of " + server + " valid then";
  }
  failed(server);
  refuse(why, reason);
  return std::nullopt;
}

std::vector<json> keyring::notary_answers(const std::string& server, const std::vector<std::string>& key_ids,
                                          int64_t minimum_valid_until_ts) {
  std::vector<json> out;
  if (server == cfg_.server_name) {
    std::vector<matrix::old_verify_key> old;
    for (auto& k : cfg_.old_signing_keys) old.push_back({k.key_id, k.public_key, k.expired_ts});
    out.push_back(matrix::own_server_keys(cfg_.server_name, key_, old, env_.now_ms() + cfg_.key_refresh_interval_ms));
    return out;
  }
  storage::server_keys_store store(pool_);
  // Only what came from the server itself: a notary does not pass on
  // another notary's copies.
  auto read = [&] {
    std::vector<storage::stored_key_answer> found;
    for (auto& a : store.answers(server))
      if (a.from_server == server &&
          (key_ids.empty() || std::find(key_ids.begin(), key_ids.end(), a.key_id) != key_ids.end()))
        found.push_back(std::move(a));
    return found;
  };
  auto answers = read();
  bool fresh = !answers.empty();
  for (auto& id : key_ids) {
    bool have = std::any_of(answers.begin(), answers.end(), [&](const storage::stored_key_answer& a) {
      return a.key_id == id && a.valid_until_ts >= minimum_valid_until_ts;
    });
    fresh = fresh && have;
  }
  if (key_ids.empty())
    fresh = fresh && std::any_of(answers.begin(), answers.end(), [&](const storage::stored_key_answer& a) {
      return a.valid_until_ts >= minimum_valid_until_ts;
    });
  if (!fresh && client_.allowed(server) && !backing_off(server)) {
    std::string why;
    if (fetch_direct(server, &why)) answers = read();
    else {
      failed(server);
      std::cerr << "key notary: " << why << "\n";
    }
  }
  std::set<std::string> seen;
  for (auto& a : answers) {
    if (!seen.insert(a.json).second) continue;
    auto j = json::parse(a.json, nullptr, false);
    if (!j.is_object()) continue;
    matrix::sign_json(j, cfg_.server_name, key_);
    out.push_back(std::move(j));
  }
  return out;
}

} // namespace axon::federation
