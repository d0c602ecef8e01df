#include "matrix/pdu_checks.hpp"

#include "matrix/canonical_json.hpp"
#include "matrix/crypto.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"

#include <limits>
#include <string_view>

namespace axon::matrix {

using json = nlohmann::json;

namespace {

/// Characters of unpadded base64 in a v3+ event id: 32 hash bytes.
constexpr size_t hash_id_digits = 43;

/// The string at obj[key], or nullptr when absent or not a string.
const std::string* string_at(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

/// A JSON integer that fits int64 (nlohmann keeps positive ones unsigned).
std::optional<int64_t> as_int64(const json& value) {
  if (value.is_number_unsigned()) {
    auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

/// v1/v2 event ids: "$opaque:server" (rooms/fragments v1-event-ids).
bool valid_v1_event_id(std::string_view id) {
  return valid_event_id(id) && id.find(':') != std::string_view::npos
         && valid_server_name(server_of(id));
}

/// v3+ event ids: "$" + unpadded base64 of a reference hash, standard
/// alphabet in v3 (rooms/v3 "Event IDs"), URL-safe from v4 (v4-event-ids).
bool valid_hash_event_id(std::string_view id, const room_version& v) {
  if (id.size() != 1 + hash_id_digits || id[0] != '$') return false;
  const bool url_safe = v.format != event_format::v2;
  for (char c : id.substr(1)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || (url_safe ? c == '-' || c == '_' : c == '+' || c == '/');
    if (!ok) return false;
  }
  return true;
}

/// One `prev_events` / `auth_events` entry in the version's format: v1/v2
/// [event_id, {"sha256": hash}] (pdu_v1), v3+ an event id (pdu_v3, pdu_v4).
bool valid_reference(const json& entry, const room_version& v) {
  if (v.format != event_format::v1)
    return entry.is_string() && valid_hash_event_id(entry.get_ref<const std::string&>(), v);
  return entry.is_array() && entry.size() == 2 && entry[0].is_string()
         && valid_v1_event_id(entry[0].get_ref<const std::string&>())
         && string_at(entry[1], "sha256") != nullptr;
}

std::optional<std::string> check_references(const json& pdu, std::string_view key,
                                            size_t max, const room_version& v) {
  auto it = pdu.find(key);
  const std::string name(key);
  if (it == pdu.end() || !it->is_array()) return "'" + name + "' is missing or not a list";
  // Counted before the entries are read: bounds the work on hostile input.
  if (it->size() > max)
    return "'" + name + "' has " + std::to_string(it->size()) + " entries, more than "
           + std::to_string(max);
  for (const auto& entry : *it)
    if (!valid_reference(entry, v)) return "'" + name + "' has a malformed entry";
  return std::nullopt;
}

/// pdu_base: `signatures` maps server names to objects of key id -> string.
bool valid_signatures_shape(const json& signatures) {
  if (!signatures.is_object()) return false;
  for (const auto& [server, by_key] : signatures.items()) {
    if (!by_key.is_object()) return false;
    for (const auto& [key_id, signature] : by_key.items())
      if (!signature.is_string()) return false;
  }
  return true;
}

/// A string field of at most 255 bytes (client-server API "Size limits").
std::optional<std::string> check_short_string(const json& pdu, std::string_view key,
                                              bool required) {
  auto it = pdu.find(key);
  const std::string name(key);
  if (it == pdu.end()) {
    if (required) return "'" + name + "' is missing";
    return std::nullopt;
  }
  if (!it->is_string()) return "'" + name + "' is not a string";
  if (it->get_ref<const std::string&>().size() > max_identifier_length)
    return "'" + name + "' is longer than 255 bytes";
  return std::nullopt;
}

/// The content of an m.room.member event, or nullptr.
const json* member_content(const json& pdu) {
  const std::string* type = string_at(pdu, "type");
  if (!type || *type != "m.room.member") return nullptr;
  auto content = pdu.find("content");
  return content != pdu.end() && content->is_object() ? &*content : nullptr;
}

bool has_membership(const json& content, std::string_view membership) {
  const std::string* m = string_at(content, "membership");
  return m && *m == membership;
}

/// content.join_authorised_via_users_server of a restricted join (MSC3083,
/// v8+) as sent, whatever its type; nullptr when the event is no such join.
const json* authorising_user(const json& pdu, const room_version& v) {
  if (!v.restricted) return nullptr;
  const json* content = member_content(pdu);
  if (!content || !has_membership(*content, "join")) return nullptr;
  auto it = content->find("join_authorised_via_users_server");
  return it != content->end() ? &*it : nullptr;
}

/// An invite made from a third-party invite: its sender's server need not
/// sign it (Synapse's _is_invite_via_3pid).
bool is_third_party_invite(const json& pdu) {
  const json* content = member_content(pdu);
  return content && has_membership(*content, "invite") && content->contains("third_party_invite");
}

/// The size and canonical JSON checks, on the event without `unsigned`.
std::optional<std::string> check_encoding(const json& pdu, const room_version& v) {
  json body = pdu;
  body.erase("unsigned");
  if (v.strict_canonical_json) {
    std::string why;
    if (!valid_for_canonical(body, &why)) return "not canonical JSON: " + why;
  }
  if (size_t n = canonical_json(body).size(); n > max_pdu_bytes)
    return "the event is " + std::to_string(n) + " bytes, more than 65536";
  return std::nullopt;
}

/// Fills `out` with the servers required_signatures names; the first id it
/// could not read gives the reason (the rest still go into `out`).
std::optional<std::string> collect_signers(const json& pdu, const room_version& v,
                                           std::vector<required_signature>& out) {
  std::optional<std::string> why;
  if (!pdu.is_object()) return "the event is not an object";
  int64_t valid_at = 0;
  if (v.enforce_key_validity) {
    auto ts = pdu.find("origin_server_ts");
    auto ms = ts != pdu.end() ? as_int64(*ts) : std::nullopt;
    if (!ms) why = "'origin_server_ts' is missing or not an integer";
    else valid_at = *ms;
  }
  auto add = [&](std::string server) {
    for (const auto& r : out)
      if (r.server == server) return;
    out.push_back({std::move(server), valid_at});
  };

  const std::string* sender = string_at(pdu, "sender");
  auto sender_id = sender ? parse_user_id(*sender) : std::nullopt;
  if (!sender_id && !why) why = "'sender' is not a user id";
  if (sender_id && !is_third_party_invite(pdu)) add(sender_id->server);

  if (v.format == event_format::v1) {
    const std::string* event_id = string_at(pdu, "event_id");
    if (event_id && valid_v1_event_id(*event_id)) {
      std::string server = server_of(*event_id);
      if (!sender_id || server != sender_id->server) add(std::move(server));
    } else if (!why) {
      why = "'event_id' is missing or not of the form $opaque:server";
    }
  }

  if (const json* user = authorising_user(pdu, v)) {
    auto id = user->is_string() ? parse_user_id(user->get_ref<const std::string&>())
                                : std::nullopt;
    if (id) add(id->server);
    else if (!why) why = "'join_authorised_via_users_server' is not a user id";
  }
  return why;
}

} // namespace

std::optional<std::string> check_pdu_format(const json& pdu, const room_version& v) {
  if (!pdu.is_object()) return "the event is not an object";

  if (auto why = check_short_string(pdu, "room_id", true)) return why;
  if (!valid_room_id(*string_at(pdu, "room_id"))) return "'room_id' is not a room id";
  if (auto why = check_short_string(pdu, "sender", true)) return why;
  if (!parse_user_id(*string_at(pdu, "sender"))) return "'sender' is not a user id";
  if (auto why = check_short_string(pdu, "type", true)) return why;
  if (auto why = check_short_string(pdu, "state_key", false)) return why;

  auto content = pdu.find("content");
  if (content == pdu.end() || !content->is_object()) return "'content' is missing or not an object";

  auto ts = pdu.find("origin_server_ts");
  if (ts == pdu.end() || !as_int64(*ts))
    return "'origin_server_ts' is missing or not a 64-bit integer";

  // pdu_v1/v3/v4: depth below 2^63; depth_v6: within canonical JSON's 2^53.
  auto depth_it = pdu.find("depth");
  auto depth = depth_it != pdu.end() ? as_int64(*depth_it) : std::nullopt;
  if (!depth) return "'depth' is missing or not a 64-bit integer";
  if (*depth < 0) return "'depth' is negative";
  if (v.strict_canonical_json && *depth > canonical_json_max_int)
    return "'depth' is above 2^53 - 1";

  auto hashes = pdu.find("hashes");
  if (hashes == pdu.end() || !string_at(*hashes, "sha256"))
    return "'hashes' is missing or has no string 'sha256'";
  auto signatures = pdu.find("signatures");
  if (signatures == pdu.end() || !valid_signatures_shape(*signatures))
    return "'signatures' is missing or not an object of objects of strings";

  if (auto why = check_references(pdu, "prev_events", max_prev_events, v)) return why;
  if (auto why = check_references(pdu, "auth_events", max_auth_events, v)) return why;

  if (v.format == event_format::v1) {
    if (auto why = check_short_string(pdu, "event_id", true)) return why;
    if (!valid_v1_event_id(*string_at(pdu, "event_id")))
      return "'event_id' is not of the form $opaque:server";
  }
  // pdu_v1 ... pdu_v6 have a top-level `redacts`; v11 (MSC2174) moves it
  // into content, where the auth rules read it.
  auto redacts = pdu.find("redacts");
  if (!v.v11_rules && redacts != pdu.end() && !redacts->is_string())
    return "'redacts' is not a string";

  if (const json* user = authorising_user(pdu, v))
    if (!user->is_string() || !parse_user_id(user->get_ref<const std::string&>()))
      return "'join_authorised_via_users_server' is not a user id";

  return check_encoding(pdu, v);
}

std::vector<required_signature> required_signatures(const json& pdu, const room_version& v) {
  std::vector<required_signature> out;
  collect_signers(pdu, v, out);
  return out;
}

std::optional<std::string> check_pdu_signatures(const json& pdu, const room_version& v,
                                                const key_lookup& keys, std::string* signed_bytes_out) {
  std::vector<required_signature> required;
  if (auto why = collect_signers(pdu, v, required)) return why;
  if (!keys) return "no key lookup given";

  // Signatures cover the redacted event without `signatures` (appendices
  // "Checking for a signature"; server-server "Validating hashes and
  // signatures"): encoded once for every signature.
  json redacted = redact(pdu, v);
  json signatures = redacted.value("signatures", json());
  redacted.erase("signatures");
  if (!signatures.is_object()) return "'signatures' is missing or not an object";
  std::string signed_bytes = canonical_json(redacted);

  for (const auto& need : required) {
    auto by_key = signatures.find(need.server);
    if (by_key == signatures.end() || !by_key->is_object() || by_key->empty())
      return "not signed by " + need.server;
    bool verified = false;
    for (const auto& [key_id, signature] : by_key->items()) {
      if (key_id.rfind("ed25519:", 0) != 0) continue;
      // "If a signature is from an unknown or expired key, it is skipped."
      auto public_key = keys(need.server, key_id, need.valid_at_ms);
      if (!public_key) continue;
      if (!signature.is_string()
          || !verify_ed25519(signed_bytes, signature.get_ref<const std::string&>(), *public_key))
        return "invalid signature by " + need.server + " with " + key_id;
      verified = true;
    }
    if (!verified) return "no signature by a known key of " + need.server;
  }
  if (signed_bytes_out) *signed_bytes_out = std::move(signed_bytes);
  return std::nullopt;
}

hash_result check_pdu_hash(const json& pdu, const room_version& v) {
  if (verify_content_hash(pdu)) return {pdu, false};
  return {redact(pdu, v), true};
}

} // namespace axon::matrix
