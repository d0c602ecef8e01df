#include "matrix/event_hash.hpp"

#include "matrix/base64.hpp"
#include "matrix/canonical_json.hpp"
#include "matrix/signing.hpp"

#include <initializer_list>

namespace axon::matrix {

using json = nlohmann::json;

namespace {

/// Top-level keys every supported version keeps (v11-redactions).
constexpr std::string_view kept_keys[] = {
    "event_id", "type", "room_id", "sender", "state_key", "content",
    "hashes", "signatures", "depth", "prev_events", "auth_events",
    "origin_server_ts"};

/// Kept before v11 only; v11 drops them (MSC2176).
constexpr std::string_view kept_keys_pre_v11[] = {"origin", "membership",
                                                  "prev_state"};

void copy_fields(const json& from, json& to,
                 std::initializer_list<std::string_view> keys) {
  for (auto key : keys) {
    auto it = from.find(key);
    if (it != from.end()) to[std::string(key)] = *it;
  }
}

/// The content `type` keeps under redaction (v1-redactions, v6-redactions,
/// v8's, v9-redactions, v11-redactions).
json redact_content(std::string_view type, const json& content,
                    const room_version& version) {
  json out = json::object();
  if (type == "m.room.member") {
    copy_fields(content, out, {"membership"});
    if (version.redaction_keeps_authorising_user) // v9 (MSC3375)
      copy_fields(content, out, {"join_authorised_via_users_server"});
    // v11 (MSC3821): third_party_invite survives, holding only `signed`.
    auto invite = content.find("third_party_invite");
    if (version.v11_rules && invite != content.end() && invite->is_object()) {
      out["third_party_invite"] = json::object();
      copy_fields(*invite, out["third_party_invite"], {"signed"});
    }
  } else if (type == "m.room.create") {
    // v11 (MSC2176) keeps the whole content; before, only `creator`.
    if (version.v11_rules) return content;
    copy_fields(content, out, {"creator"});
  } else if (type == "m.room.join_rules") {
    copy_fields(content, out, {"join_rule"});
    if (version.restricted) copy_fields(content, out, {"allow"}); // v8 (MSC3083)
  } else if (type == "m.room.power_levels") {
    copy_fields(content, out,
                {"ban", "events", "events_default", "kick", "redact",
                 "state_default", "users", "users_default"});
    if (version.v11_rules) copy_fields(content, out, {"invite"}); // MSC2176
  } else if (type == "m.room.aliases" && version.special_case_aliases) {
    copy_fields(content, out, {"aliases"}); // v1-v5; MSC2432 drops it in v6
  } else if (type == "m.room.history_visibility") {
    copy_fields(content, out, {"history_visibility"});
  } else if (type == "m.room.redaction" && version.v11_rules) {
    copy_fields(content, out, {"redacts"}); // MSC2174
  }
  return out;
}

/// The bytes the reference hash and the signatures cover: the canonical
/// redacted event without `signatures` (redaction drops `unsigned` and
/// `age_ts`).
std::string reference_bytes(const json& event, const room_version& version) {
  json redacted = redact(event, version);
  redacted.erase("signatures");
  return canonical_json(redacted);
}

/// The event id of a v3+ event from its reference hash (raw bytes).
std::string hash_event_id(const std::string& hash, const room_version& version) {
  return "$" + (version.format == event_format::v2 ? base64_encode(hash)
                                                   : base64_url_encode(hash));
}

/// SHA-256 of the canonical event without the keys the content hash skips.
std::string content_hash_raw(const json& event) {
  json copy = event;
  if (copy.is_object()) {
    copy.erase("unsigned");
    copy.erase("signatures");
    copy.erase("hashes");
  }
  return sha256(canonical_json(copy));
}

} // namespace

json redact(const json& event, const room_version& version) {
  json out = json::object();
  if (!event.is_object()) return out;
  for (auto key : kept_keys) copy_fields(event, out, {key});
  if (!version.v11_rules)
    for (auto key : kept_keys_pre_v11) copy_fields(event, out, {key});

  auto type = event.find("type");
  auto content = event.find("content");
  std::string_view type_name =
      type != event.end() && type->is_string()
          ? std::string_view(type->get_ref<const std::string&>())
          : std::string_view();
  out["content"] = content != event.end() && content->is_object()
                       ? redact_content(type_name, *content, version)
                       : json::object();
  return out;
}

std::string compute_content_hash(const json& event) {
  return base64_encode(content_hash_raw(event));
}

void add_content_hash(json& event) {
  if (!event.is_object()) return;
  std::string hash = compute_content_hash(event);
  auto& hashes = event["hashes"];
  if (!hashes.is_object()) hashes = json::object();
  hashes["sha256"] = std::move(hash);
}

bool verify_content_hash(const json& event) {
  if (!event.is_object()) return false;
  auto hashes = event.find("hashes");
  if (hashes == event.end() || !hashes->is_object()) return false;
  auto hash = hashes->find("sha256");
  if (hash == hashes->end() || !hash->is_string()) return false;
  auto claimed = base64_decode(hash->get_ref<const std::string&>());
  return claimed && *claimed == content_hash_raw(event);
}

std::string compute_reference_hash(const json& event, const room_version& version) {
  return base64_encode(sha256(reference_bytes(event, version)));
}

std::string compute_event_id(const json& event, const room_version& version) {
  if (version.format == event_format::v1) {
    auto id = event.is_object() ? event.find("event_id") : event.end();
    return event.is_object() && id != event.end() && id->is_string() ? id->get<std::string>()
                                                                     : std::string();
  }
  return hash_event_id(sha256(reference_bytes(event, version)), version);
}

std::string event_id_from_reference_bytes(const json& event, std::string_view bytes,
                                          const room_version& version) {
  if (version.format == event_format::v1) return compute_event_id(event, version);
  return hash_event_id(sha256(bytes), version);
}

void sign_event(json& event, const std::string& server_name,
                const signing_key& key, const room_version& version) {
  if (!event.is_object()) return;
  auto& signatures = event["signatures"];
  if (!signatures.is_object()) signatures = json::object();
  // The signature covers the redacted event, so it survives redaction (the
  // bytes the reference hash covers: appendices, "Signing Events").
  signatures[server_name][key.key_id()] =
      key.sign_b64(reference_bytes(event, version));
}

void hash_and_sign_event(json& event, const std::string& server_name,
                         const signing_key& key, const room_version& version) {
  add_content_hash(event);
  sign_event(event, server_name, key, version);
}

std::string hash_sign_and_id(json& event, const std::string& server_name,
                             const signing_key& key, const room_version& version,
                             std::string* reference_hash) {
  add_content_hash(event);
  // Signature and reference hash cover the same bytes, so one
  // canonicalisation serves both.
  auto bytes = reference_bytes(event, version);
  auto& signatures = event["signatures"];
  if (!signatures.is_object()) signatures = json::object();
  signatures[server_name][key.key_id()] = key.sign_b64(bytes);
  auto hash = sha256(bytes);
  if (reference_hash) *reference_hash = base64_encode(hash);
  if (version.format == event_format::v1) return compute_event_id(event, version);
  return hash_event_id(hash, version);
}

json event_reference(const std::string& event_id, const std::string& reference_hash,
                     const room_version& version) {
  if (version.format != event_format::v1) return event_id;
  return json::array({event_id, {{"sha256", reference_hash}}});
}

std::vector<std::string> referenced_event_ids(const json& references) {
  std::vector<std::string> out;
  if (!references.is_array()) return out;
  for (const auto& r : references) {
    if (r.is_string()) out.push_back(r.get<std::string>());
    else if (r.is_array() && !r.empty() && r[0].is_string()) out.push_back(r[0].get<std::string>());
  }
  return out;
}

bool verify_event_signature(const json& event, const std::string& server_name,
                            const std::string& key_id, std::string_view pub_raw,
                            const room_version& version) {
  if (!event.is_object()) return false;
  return verify_json(redact(event, version), server_name, key_id, pub_raw);
}

} // namespace axon::matrix
