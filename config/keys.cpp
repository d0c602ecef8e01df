// config/keys.cpp -- this server's signing keys as federation sees them and
// the notaries it trusts: old_signing_keys, key_refresh_interval,
// trusted_key_servers, suppress_key_server_warning (Synapse's
// synapse/config/key.py; the same errors and warnings).
#include "config/sections.hpp"

#include "matrix/server_keys.hpp"

namespace axon::config::detail {

namespace {

/// "ed25519:<version>" with a version of the characters the spec allows.
bool supported_key_id(const std::string& id) {
  const std::string prefix = "ed25519:";
  if (id.size() <= prefix.size() || id.compare(0, prefix.size(), prefix) != 0) return false;
  for (char c : id.substr(prefix.size()))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

void parse_old_signing_keys(const merged_doc& doc, homeserver_config& cfg) {
  const std::string key = "old_signing_keys";
  reader r = doc.at(key);
  auto n = doc.get(key);
  if (!r.expect_map(n, key)) return;
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto id = it->first.as<std::string>();
    auto where = key + "." + id;
    if (!supported_key_id(id)) {
      r.error(where, "unsupported signing algorithm for old key '" + id + "' (only ed25519:<version>)");
      continue;
    }
    if (!r.expect_map(it->second, where)) continue;
    old_signing_key k;
    k.key_id = id;
    std::string b64;
    if (!present(it->second["key"])) r.error(where + ".key", "is required (the old public key, base64)");
    else if (r.read(it->second["key"], where + ".key", b64)) {
      if (auto raw = matrix::ed25519_public_key(b64)) k.public_key = *raw;
      else r.error(where + ".key", "is not a 32-byte ed25519 public key in base64");
    }
    if (!present(it->second["expired_ts"]))
      r.error(where + ".expired_ts", "is required (when the key stopped being used, ms since the epoch)");
    else
      r.read(it->second["expired_ts"], where + ".expired_ts", k.expired_ts);
    if (!k.public_key.empty()) cfg.old_signing_keys.push_back(std::move(k));
  }
}

void parse_trusted_key_servers(const merged_doc& doc, homeserver_config& cfg) {
  const std::string key = "trusted_key_servers";
  reader r = doc.at(key);
  bool suppress = false;
  doc.at("suppress_key_server_warning")
    .read(doc.get("suppress_key_server_warning"), "suppress_key_server_warning", suppress);
  cfg.suppress_key_server_warning = suppress;
  if (!doc.find(key)) {
    if (!cfg.federation_verify_certificates) {
      r.error(key, "the default (matrix.org without verify_keys) is refused while "
                   "federation_verify_certificates is false: list the notaries with their verify_keys");
      return;
    }
    // Synapse's default, with its warning.
    r.warn("trusted_key_servers is not set: other servers' keys will be fetched through "
           "matrix.org (the default); set trusted_key_servers to choose (an empty list: "
           "only from each server itself), and suppress_key_server_warning: true to keep "
           "matrix.org without this warning");
    return;
  }
  cfg.trusted_key_servers.clear();
  auto n = doc.get(key);
  if (!present(n)) return;
  if (!n.IsSequence()) {
    r.error(key, "must be a list of {server_name, verify_keys}");
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    auto where = key + "[" + std::to_string(i) + "]";
    auto e = n[i];
    if (!r.expect_map(e, where)) continue;
    trusted_key_server t;
    if (!present(e["server_name"])) {
      r.error(where + ".server_name", "is required");
      continue;
    }
    if (!r.read(e["server_name"], where + ".server_name", t.server_name)) continue;
    r.read(e["accept_keys_insecurely"], where + ".accept_keys_insecurely", t.accept_keys_insecurely);
    auto keys = e["verify_keys"];
    if (present(keys) && r.expect_map(keys, where + ".verify_keys")) {
      for (auto k = keys.begin(); k != keys.end(); ++k) {
        auto id = k->first.as<std::string>();
        auto kw = where + ".verify_keys." + id;
        if (!supported_key_id(id)) {
          r.error(kw, "unsupported signing algorithm on key '" + id + "' for server " + t.server_name);
          continue;
        }
        std::string b64;
        if (!r.read(k->second, kw, b64)) continue;
        if (auto raw = matrix::ed25519_public_key(b64)) t.verify_keys[id] = *raw;
        else r.error(kw, "unable to parse key '" + id + "' for server " + t.server_name +
                           ": not a 32-byte ed25519 public key in base64");
      }
    }
    // Without certificate checks a notary is known only by its keys
    // (Synapse's INSECURE_NOTARY_ERROR and RELYING_ON_MATRIX_KEY_ERROR).
    if (!cfg.federation_verify_certificates && !t.accept_keys_insecurely) {
      if (t.verify_keys.empty())
        r.error(where + ".verify_keys",
                "is required while federation_verify_certificates is false (the notary's keys "
                "could otherwise be anyone's); or set accept_keys_insecurely: true");
      else if (t.server_name == "matrix.org" && t.verify_keys.count("ed25519:auto"))
        r.error(where + ".verify_keys",
                "trusts matrix.org's key ed25519:auto, which is known to have been compromised; "
                "use its current key, or turn federation_verify_certificates back on");
    }
    cfg.trusted_key_servers.push_back(std::move(t));
  }
  if (!suppress)
    for (auto& t : cfg.trusted_key_servers)
      if (t.server_name == "matrix.org") {
        r.warn("trusted_key_servers uses matrix.org as its key server, a good choice; set "
               "suppress_key_server_warning: true to keep it without this warning");
        break;
      }
}

} // namespace

void parse_keys(const merged_doc& doc, homeserver_config& cfg) {
  parse_old_signing_keys(doc, cfg);
  doc.at("key_refresh_interval")
    .read_duration(doc.get("key_refresh_interval"), "key_refresh_interval", cfg.key_refresh_interval_ms);
  parse_trusted_key_servers(doc, cfg);
}

} // namespace axon::config::detail
