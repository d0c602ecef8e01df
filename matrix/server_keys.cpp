#include "matrix/server_keys.hpp"

#include "matrix/base64.hpp"
#include "matrix/signing.hpp"

namespace axon::matrix {

using json = nlohmann::json;

json own_server_keys(const std::string& server_name, const signing_key& key,
                     const std::vector<old_verify_key>& old, int64_t valid_until_ts) {
  json out = {{"server_name", server_name},
              {"valid_until_ts", valid_until_ts},
              {"verify_keys", {{key.key_id(), {{"key", key.public_b64()}}}}},
              {"old_verify_keys", json::object()}};
  for (auto& k : old)
    if (k.key_id != key.key_id())
      out["old_verify_keys"][k.key_id] = {{"key", base64_encode(k.public_key)}, {"expired_ts", k.expired_ts}};
  sign_json(out, server_name, key);
  return out;
}

std::optional<std::string> ed25519_public_key(const std::string& b64) {
  auto raw = base64_decode(b64);
  if (!raw || raw->size() != 32) return std::nullopt;
  return raw;
}

namespace {

bool is_ed25519(const std::string& key_id) { return key_id.rfind("ed25519:", 0) == 0 && key_id.size() > 8; }

/// The 32 raw bytes of `entry.key`, or nullopt.
std::optional<std::string> key_bytes(const json& entry) {
  if (!entry.is_object()) return std::nullopt;
  auto k = entry.find("key");
  if (k == entry.end() || !k->is_string()) return std::nullopt;
  return ed25519_public_key(k->get<std::string>());
}

std::optional<server_keys> refuse(std::string* why, std::string reason) {
  if (why) *why = std::move(reason);
  return std::nullopt;
}

} // namespace

std::optional<server_keys> check_server_keys(const json& response, const std::string& server_name,
                                             std::string* why) {
  if (!response.is_object()) return refuse(why, "the key response is not a JSON object");
  auto name = response.find("server_name");
  if (name == response.end() || !name->is_string() || name->get<std::string>() != server_name)
    return refuse(why, "the key response is not for " + server_name);
  server_keys out;
  out.server_name = server_name;
  auto until = response.find("valid_until_ts");
  if (until == response.end() || !until->is_number_integer())
    return refuse(why, "valid_until_ts is missing or not an integer");
  out.valid_until_ts = until->get<int64_t>();
  auto verify = response.find("verify_keys");
  if (verify == response.end() || !verify->is_object()) return refuse(why, "verify_keys is missing");
  for (auto& [id, entry] : verify->items()) {
    if (!is_ed25519(id)) continue;
    auto raw = key_bytes(entry);
    if (!raw) return refuse(why, "verify key " + id + " is not an ed25519 key");
    out.verify_keys[id] = *raw;
  }
  if (auto old = response.find("old_verify_keys"); old != response.end()) {
    if (!old->is_object()) return refuse(why, "old_verify_keys is not an object");
    for (auto& [id, entry] : old->items()) {
      if (!is_ed25519(id)) continue;
      auto raw = key_bytes(entry);
      auto expired = entry.is_object() ? entry.find("expired_ts") : entry.end();
      if (!raw || expired == entry.end() || !expired->is_number_integer())
        return refuse(why, "old verify key " + id + " is malformed");
      out.old_verify_keys[id] = {id, *raw, expired->get<int64_t>()};
    }
  }
  auto sigs = response.find("signatures");
  if (sigs == response.end() || !sigs->is_object()) return refuse(why, "the key response is not signed");
  auto own = sigs->find(server_name);
  if (own == sigs->end() || !own->is_object()) return refuse(why, "the key response is not signed by " + server_name);
  bool signed_by_listed = false;
  for (auto& [id, sig] : own->items()) {
    auto k = out.verify_keys.find(id);
    if (k == out.verify_keys.end()) continue; // a notary's own key, say
    if (!verify_json(response, server_name, id, k->second))
      return refuse(why, "the signature by " + id + " does not verify");
    signed_by_listed = true;
  }
  if (!signed_by_listed) return refuse(why, "the key response is not signed by any of its verify_keys");
  return out;
}

} // namespace axon::matrix
