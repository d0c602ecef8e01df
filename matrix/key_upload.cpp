#include "matrix/key_upload.hpp"

namespace axon::matrix {

using nlohmann::json;

namespace {

upload_problem bad(std::string message) { return {upload_problem::bad_json, std::move(message)}; }

bool string_map(const json& j) {
  if (!j.is_object()) return false;
  for (auto& [_, v] : j.items())
    if (!v.is_string()) return false;
  return true;
}

/// {"user_id": {"algorithm:key_id": "signature"}} (spec: Signatures).
bool signatures_shape(const json& j) {
  if (!j.is_object()) return false;
  for (auto& [_, v] : j.items())
    if (!string_map(v)) return false;
  return true;
}

const json* member(const json& obj, const char* key) {
  auto i = obj.find(key);
  return i == obj.end() ? nullptr : &*i;
}

} // namespace

std::optional<upload_problem> check_device_keys(const json& dk, const std::string& user_id,
                                                const std::string& device_id) {
  if (!dk.is_object()) return bad("device_keys must be an object");
  for (auto* key : {"user_id", "device_id"}) {
    auto* v = member(dk, key);
    if (!v || !v->is_string()) return bad(std::string("device_keys.") + key + " must be a string");
  }
  auto* algs = member(dk, "algorithms");
  if (!algs || !algs->is_array()) return bad("device_keys.algorithms must be a list of strings");
  for (auto& a : *algs)
    if (!a.is_string()) return bad("device_keys.algorithms must be a list of strings");
  auto* keys = member(dk, "keys");
  if (!keys || !string_map(*keys)) return bad("device_keys.keys must map key ids to strings");
  auto* sigs = member(dk, "signatures");
  if (!sigs || !signatures_shape(*sigs))
    return bad("device_keys.signatures must map user ids to key ids to strings");
  if (dk["user_id"] != user_id || dk["device_id"] != device_id)
    return upload_problem{upload_problem::invalid_param,
                          "Provided device keys don't match the requesting user and device"};
  return std::nullopt;
}

std::optional<upload_problem> check_key_map(const json& keys, const std::string& what) {
  if (!keys.is_object()) return bad(what + " must be an object");
  for (auto& [id, key] : keys.items()) {
    // The store files keys by algorithm: "algorithm:key_id".
    auto colon = id.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == id.size())
      return bad(what + ": key ids must be algorithm:key_id, not " + id);
    if (key.is_string()) continue;
    auto where = what + "[" + id + "]";
    if (!key.is_object()) return bad(where + " must be a string or a key object");
    auto* k = member(key, "key");
    if (!k || !k->is_string()) return bad(where + ".key must be a string");
    auto* sigs = member(key, "signatures");
    if (!sigs || !signatures_shape(*sigs))
      return bad(where + ".signatures must map user ids to key ids to strings");
    if (auto* f = member(key, "fallback"); f && !f->is_boolean())
      return bad(where + ".fallback must be a boolean");
  }
  return std::nullopt;
}

} // namespace axon::matrix
