#include "matrix/cross_signing.hpp"

#include "matrix/base64.hpp"
#include "matrix/signing.hpp"

namespace axon::matrix {

using nlohmann::json;

std::optional<cross_signing_public_key> public_key_of(const json& key) {
  if (!key.is_object()) return std::nullopt;
  auto keys = key.find("keys");
  if (keys == key.end() || !keys->is_object() || keys->size() != 1) return std::nullopt;
  std::string key_id = keys->begin().key();
  auto& val = keys->begin().value();
  if (!val.is_string() || key_id.rfind("ed25519:", 0) != 0) return std::nullopt;
  auto b64 = val.get<std::string>();
  if (key_id.substr(8) != b64) return std::nullopt;
  auto raw = base64_decode(b64);
  if (!raw || raw->size() != 32 || base64_encode(*raw) != b64) return std::nullopt;
  return cross_signing_public_key{key_id, b64, *raw};
}

std::optional<key_problem> check_cross_signing_key(const json& key, const std::string& user_id,
                                                   const std::string& usage,
                                                   const cross_signing_public_key* signer) {
  auto bad = [](std::string m) { return key_problem{key_problem::invalid_param, std::move(m)}; };
  if (!key.is_object()) return bad(usage + " key must be an object");
  auto uid = key.find("user_id");
  if (uid == key.end() || !uid->is_string() || uid->get<std::string>() != user_id)
    return bad("Invalid user ID in the " + usage + " key");
  auto use = key.find("usage");
  bool has_usage = false;
  if (use != key.end() && use->is_array())
    for (auto& u : *use)
      if (u.is_string() && u.get<std::string>() == usage) has_usage = true;
  if (!has_usage) return bad("Invalid usage of the " + usage + " key");
  if (!public_key_of(key)) return bad("Invalid " + usage + " key");
  if (auto sigs = key.find("signatures"); sigs != key.end() && !sigs->is_object())
    return bad("signatures of the " + usage + " key must be an object");
  if (signer && !verify_json(key, user_id, signer->key_id, signer->raw))
    return key_problem{key_problem::invalid_signature,
                       "The " + usage + " key is not signed by the master key"};
  return std::nullopt;
}

json signed_part(const json& obj) {
  if (!obj.is_object()) return obj;
  json out = obj;
  out.erase("signatures");
  out.erase("unsigned");
  return out;
}

} // namespace axon::matrix
