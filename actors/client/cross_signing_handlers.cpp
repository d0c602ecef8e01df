// actors/client/cross_signing_handlers.cpp -- cross-signing: uploading the
// user's cross-signing keys and signatures made with them or of them.
// Spec: client-server API "End-to-End Encryption" > "Cross-signing"; Synapse
// (handlers/e2e_keys.py) where the spec is silent. The device_lists writer
// stores them (they are E2EE key tables) and advances device_lists.
#include "actors/client/common.hpp"
#include "actors/federation/device_lists.hpp"
#include "actors/client/cross_signing.hpp"
#include "actors/client/routes.hpp"
#include "matrix/base64.hpp"
#include "matrix/cross_signing.hpp"
#include "matrix/identifiers.hpp"
#include "matrix/signing.hpp"
#include "storage/stores/cross_signing_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "transport/transport.hpp"

#include <map>
#include <set>

namespace axon::client {

using http::fail;

namespace {

const char* const key_types[] = {"master", "self_signing", "user_signing"};

/// A refused key as the Matrix error it names (raises).
[[noreturn]] void fail_key(const matrix::key_problem& p) {
  switch (p.kind) {
    case matrix::key_problem::missing_param: fail(errc::missing_param, p.message);
    case matrix::key_problem::invalid_signature: fail(errc::invalid_signature, p.message);
    case matrix::key_problem::invalid_param: break;
  }
  fail(errc::invalid_param, p.message);
}

std::optional<json> stored_key(request& req, const std::string& user_id, const char* type) {
  auto text = req.ctx->cross_signing->key(user_id, type);
  if (!text) return std::nullopt;
  return json::parse(*text);
}

// ---- POST /keys/device_signing/upload ------------------------------------------------

response upload_signing_keys(request& req) {
  auto& body = req.json_body();
  auto& me = req.auth().user_id;
  // The keys of the request (null means absent).
  std::map<std::string, json> up;
  for (auto* type : key_types) {
    auto name = std::string(type) + "_key";
    if (auto i = body.find(name); i != body.end() && !i->is_null()) up[type] = *i;
  }
  // Check everything before storing anything (Synapse's order: the master
  // key, then the others against the master key in effect after the upload).
  std::optional<json> master;
  if (up.count("master")) {
    if (auto p = matrix::check_cross_signing_key(up["master"], me, "master", nullptr)) fail_key(*p);
    master = up["master"];
  } else {
    master = stored_key(req, me, "master");
  }
  if (!master) fail(errc::missing_param, "No master key available");
  auto master_pub = matrix::public_key_of(*master);
  if (!master_pub) fail(errc::unknown, "Invalid master key stored");
  for (auto* type : {"self_signing", "user_signing"})
    if (up.count(type))
      if (auto p = matrix::check_cross_signing_key(up[type], me, type, &*master_pub)) fail_key(*p);

  // UIA: not for a first master key (MSC3967, as Synapse), nor when the
  // upload changes nothing.
  auto stored = req.ctx->cross_signing->keys(me);
  bool changes = false;
  for (auto& [type, key] : up) {
    auto s = stored.find(type);
    if (s == stored.end() || json::parse(s->second) != key) changes = true;
  }
  if (!changes) return {200, json::object()};
  if (stored.count("master"))
    if (auto challenge = password_uia(req)) return *challenge;

  msg::upload_cross_signing_keys out{me, "", "", ""};
  if (up.count("master")) out.master_key = up["master"].dump();
  if (up.count("self_signing")) out.self_signing_key = up["self_signing"].dump();
  if (up.count("user_signing")) out.user_signing_key = up["user_signing"].dump();
  req.ctx->transport->upload_cross_signing_keys(out);
  federation::send_signing_key_update(*req.ctx, me);
  return {200, json::object()};
}

// ---- POST /keys/signatures/upload -----------------------------------------------------

/// One entry that failed: its Matrix error.
struct entry_failure {
  std::string errcode;
  std::string message;
};

[[noreturn]] void reject(const char* errcode, std::string message) {
  throw entry_failure{errcode, std::move(message)};
}

/// Verifies `signed_obj` signed by `user_id`'s key `key_id` (public key
/// `pub`) and that it is the stored object `stored` apart from signatures.
/// Returns the signature.
std::string check_signed(const json& signed_obj, const json& stored, const std::string& user_id,
                         const std::string& key_id, std::string_view pub) {
  auto sig = signed_obj.find("signatures");
  if (sig == signed_obj.end() || !sig->is_object() || !sig->contains(user_id) ||
      !(*sig)[user_id].is_object() || !(*sig)[user_id].contains(key_id) ||
      !(*sig)[user_id][key_id].is_string())
    reject("M_INVALID_SIGNATURE", "Invalid signature");
  if (!matrix::verify_json(signed_obj, user_id, key_id, pub))
    reject("M_INVALID_SIGNATURE", "Invalid signature");
  if (matrix::signed_part(signed_obj) != matrix::signed_part(stored))
    reject("M_UNKNOWN", "Key does not match");
  return (*sig)[user_id][key_id].get<std::string>();
}

/// True when `obj` already carries this signature.
bool has_signature(const json& obj, const std::string& user_id, const std::string& key_id,
                   const std::string& sig) {
  auto s = obj.find("signatures");
  if (s == obj.end() || !s->is_object()) return false;
  auto u = s->find(user_id);
  if (u == s->end() || !u->is_object()) return false;
  auto k = u->find(key_id);
  return k != u->end() && *k == sig;
}

struct pending {
  std::string key_id; ///< the signer's key
  std::string target_user_id;
  std::string target_device_id;
  std::string signature;
};

/// The requester's own keys: devices signed by their self-signing key, their
/// master key signed by their devices.
void own_signatures(request& req, const std::string& me, const json& entries,
                    std::vector<pending>& out, json& failures) {
  auto master = stored_key(req, me, "master");
  auto self_signing = stored_key(req, me, "self_signing");
  if (!master || !self_signing) {
    for (auto& [id, obj] : entries.items())
      failures[me][id] = {{"errcode", "M_NOT_FOUND"},
                          {"error", std::string("No ") + (master ? "self_signing" : "master") +
                                      " key found for " + me}};
    return;
  }
  auto master_pub = matrix::public_key_of(*master);
  auto ssk_pub = matrix::public_key_of(*self_signing);
  if (!master_pub || !ssk_pub) fail(errc::unknown, "Invalid cross-signing key stored");
  auto* devices_store = req.ctx->e2e_keys;
  for (auto& [id, obj] : entries.items()) {
    try {
      if (!obj.contains("signatures") || !obj["signatures"].is_object() ||
          !obj["signatures"].contains(me))
        reject("M_INVALID_SIGNATURE", "Invalid signature");
      if (id == master_pub->base64) {
        // The master key, signed by the user's devices (each signature by
        // a device key that device uploaded).
        auto& sigs = obj["signatures"][me];
        if (!sigs.is_object()) reject("M_INVALID_SIGNATURE", "Invalid signature");
        std::vector<pending> found;
        for (auto& [signer, s] : sigs.items()) {
          if (signer == master_pub->key_id) continue;
          auto colon = signer.find(':');
          if (signer.rfind("ed25519:", 0) != 0) reject("M_INVALID_SIGNATURE", "Invalid signature");
          auto device_id = signer.substr(colon + 1);
          auto dev = devices_store->device_keys(me, {device_id});
          if (dev.empty()) reject("M_INVALID_SIGNATURE", "Invalid signature");
          auto dk = json::parse(dev.begin()->second);
          std::string pub_b64;
          if (auto k = dk.find("keys"); k != dk.end() && k->is_object())
            if (auto v = k->find(signer); v != k->end() && v->is_string())
              pub_b64 = v->get<std::string>();
          auto pub = matrix::base64_decode(pub_b64);
          if (!pub || pub->size() != 32) reject("M_INVALID_SIGNATURE", "Invalid signature");
          auto sig = check_signed(obj, *master, me, signer, *pub);
          if (!has_signature(*master, me, signer, sig))
            found.push_back({signer, me, id, sig});
        }
        out.insert(out.end(), found.begin(), found.end());
        continue;
      }
      // A device, signed by the self-signing key.
      if (!obj["signatures"][me].is_object() || !obj["signatures"][me].contains(ssk_pub->key_id))
        reject("M_INVALID_SIGNATURE", "Invalid signature");
      auto dev = devices_store->device_keys(me, {id});
      if (dev.empty()) reject("M_NOT_FOUND", "Unknown device");
      auto stored = json::parse(dev.begin()->second);
      auto sig = check_signed(obj, stored, me, ssk_pub->key_id, ssk_pub->raw);
      if (!has_signature(stored, me, ssk_pub->key_id, sig))
        out.push_back({ssk_pub->key_id, me, id, sig});
    } catch (const entry_failure& f) {
      failures[me][id] = {{"errcode", f.errcode}, {"error", f.message}};
    }
  }
}

/// Another user's master key signed by the requester's user-signing key.
void other_signatures(request& req, const std::string& me, const std::string& target,
                      const json& entries, const std::optional<json>& usk,
                      std::vector<pending>& out, json& failures) {
  auto fail_all = [&](const char* errcode, const std::string& message) {
    for (auto& [id, obj] : entries.items())
      failures[target][id] = {{"errcode", errcode}, {"error", message}};
  };
  if (!usk) return fail_all("M_NOT_FOUND", "No user_signing key found for " + me);
  auto usk_pub = matrix::public_key_of(*usk);
  if (!usk_pub) fail(errc::unknown, "Invalid cross-signing key stored");
  auto parsed = matrix::parse_user_id(target);
  std::optional<json> master;
  if (parsed && target.substr(target.find(':') + 1) == server_name(req))
    master = stored_key(req, target, "master");
  if (!master) return fail_all("M_NOT_FOUND", "No master key found for " + target);
  auto master_pub = matrix::public_key_of(*master);
  if (!master_pub) fail(errc::unknown, "Invalid cross-signing key stored");
  for (auto& [id, obj] : entries.items()) {
    try {
      // Only the master key of another user may be signed.
      if (id != master_pub->base64) reject("M_INVALID_SIGNATURE", "Invalid signature");
      auto sig = check_signed(obj, *master, me, usk_pub->key_id, usk_pub->raw);
      out.push_back({usk_pub->key_id, target, id, sig});
    } catch (const entry_failure& f) {
      failures[target][id] = {{"errcode", f.errcode}, {"error", f.message}};
    }
  }
}

response upload_signatures(request& req) {
  auto& body = req.json_body();
  auto& me = req.auth().user_id;
  if (!body.is_object()) fail(errc::bad_json, "The body must be an object");
  // Malformed entries fail the whole request (Synapse), before anything.
  for (auto& [user, entries] : body.items()) {
    if (!entries.is_object()) fail(errc::invalid_param, "Invalid parameter");
    for (auto& [id, obj] : entries.items())
      if (!obj.is_object()) fail(errc::invalid_param, "Invalid parameter");
  }
  std::vector<pending> found;
  json failures = json::object();
  std::optional<json> usk;
  bool usk_read = false;
  for (auto& [user, entries] : body.items()) {
    if (entries.empty()) continue;
    if (user == me) {
      own_signatures(req, me, entries, found, failures);
    } else {
      if (!usk_read) usk = stored_key(req, me, "user_signing"), usk_read = true;
      other_signatures(req, me, user, entries, usk, found, failures);
    }
  }
  if (!found.empty()) {
    json list = json::array();
    for (auto& p : found)
      list.push_back({{"key_id", p.key_id},
                      {"target_user_id", p.target_user_id},
                      {"target_device_id", p.target_device_id},
                      {"signature", p.signature}});
    req.ctx->transport->upload_signatures({me, list.dump()});
  }
  return {200, {{"failures", failures}}};
}

/// Adds the stored signatures on `target_id` of `owner` visible to `viewer`
/// (by the owner, or by the viewer) to `obj`'s signatures.
void merge_signatures(json& obj, const std::string& owner, const std::string& target_id,
                      const std::string& viewer,
                      const std::vector<storage::cross_signing_signature>& sigs) {
  for (auto& s : sigs) {
    if (s.target_device_id != target_id) continue;
    if (s.user_id != owner && s.user_id != viewer) continue;
    if (!obj.contains("signatures") || !obj["signatures"].is_object())
      obj["signatures"] = json::object();
    obj["signatures"][s.user_id][s.key_id] = s.signature;
  }
}

} // namespace

// ---- /keys/query -----------------------------------------------------------------------

void add_cross_signing_to_query(request& req, const std::vector<std::string>& users,
                                json& device_keys, json& out, const std::string& viewer) {
  auto& me = viewer;
  json master = json::object(), self_signing = json::object(), user_signing = json::object();
  for (auto& user : users) {
    auto keys = req.ctx->cross_signing->keys(user);
    auto sigs = req.ctx->cross_signing->signatures_on(user);
    if (!sigs.empty() && device_keys.contains(user))
      for (auto& [device, dk] : device_keys[user].items())
        merge_signatures(dk, user, device, me, sigs);
    for (auto& [type, text] : keys) {
      auto key = json::parse(text);
      if (auto pub = matrix::public_key_of(key)) merge_signatures(key, user, pub->base64, me, sigs);
      if (type == "master") master[user] = std::move(key);
      else if (type == "self_signing") self_signing[user] = std::move(key);
      else if (type == "user_signing" && !me.empty() && user == me) user_signing[user] = std::move(key);
    }
  }
  out["master_keys"] = master;
  out["self_signing_keys"] = self_signing;
  if (!me.empty()) out["user_signing_keys"] = user_signing;
}

void add_cross_signing_routes(std::vector<http::route>& out) {
  // Also under /unstable, where clients written before v1.1 (and Synapse)
  // still send them.
  for (const char* c : {"/_matrix/client/{v}", "/_matrix/client/unstable"}) {
    out.push_back({"POST", c, "/keys/device_signing/upload", true, "client", upload_signing_keys,
                   "device_lists"});
    out.push_back({"POST", c, "/keys/signatures/upload", true, "client", upload_signatures,
                   "device_lists"});
  }
}

} // namespace axon::client
