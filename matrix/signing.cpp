#include "matrix/signing.hpp"

#include "matrix/canonical_json.hpp"

namespace axon::matrix {

using json = nlohmann::json;

namespace {

/// Canonical JSON of `obj` without the keys no signature covers.
std::string signable_bytes(const json& obj) {
  json copy = obj;
  copy.erase("signatures");
  copy.erase("unsigned");
  return canonical_json(copy);
}

} // namespace

void sign_json(json& obj, const std::string& server_name, const signing_key& key) {
  if (!obj.is_object()) return;
  std::string signature = key.sign_b64(signable_bytes(obj));
  auto& signatures = obj["signatures"];
  if (!signatures.is_object()) signatures = json::object();
  auto& ours = signatures[server_name];
  if (!ours.is_object()) ours = json::object();
  ours[key.key_id()] = std::move(signature);
}

bool verify_json(const json& obj, const std::string& server_name,
                 const std::string& key_id, std::string_view pub_raw) {
  if (!obj.is_object()) return false;
  auto signatures = obj.find("signatures");
  if (signatures == obj.end() || !signatures->is_object()) return false;
  auto ours = signatures->find(server_name);
  if (ours == signatures->end() || !ours->is_object()) return false;
  auto signature = ours->find(key_id);
  if (signature == ours->end() || !signature->is_string()) return false;
  return verify_ed25519(signable_bytes(obj),
                        signature->get_ref<const std::string&>(), pub_raw);
}

} // namespace axon::matrix
