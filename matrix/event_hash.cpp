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

/// The content `type` keeps under redaction (v9-redactions, v11-redactions).
json redact_content(std::string_view type, const json& content,
                    const room_version& version) {
  json out = json::object();
  if (type == "m.room.member") {
    copy_fields(content, out, {"membership", "join_authorised_via_users_server"});
    // v11 (MSC3821): third_party_invite survives, holding only `signed`.
    auto invite = content.find("third_party_invite");
    if (version.v11_rules && invite != content.end() && invite->is_object()) {
      out["third_party_invite"] = json::object();
      copy_fields(*invite, out["third_party_invite"], {"signed"});
    }
  } else if (type == "m.room.create") {
    // v11 (MSC2176) keeps the whole content; v10 keeps `creator`.
    if (version.v11_rules) return content;
    copy_fields(content, out, {"creator"});
  } else if (type == "m.room.join_rules") {
    copy_fields(content, out, {"join_rule", "allow"});
  } else if (type == "m.room.power_levels") {
    copy_fields(content, out,
                {"ban", "events", "events_default", "kick", "redact",
                 "state_default", "users", "users_default"});
    if (version.v11_rules) copy_fields(content, out, {"invite"}); // MSC2176
  } else if (type == "m.room.history_visibility") {
    copy_fields(content, out, {"history_visibility"});
  } else if (type == "m.room.redaction" && version.v11_rules) {
    copy_fields(content, out, {"redacts"}); // MSC2174
  }
  return out;
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

std::string compute_event_id(const json& event, const room_version& version) {
  // Redaction already drops `unsigned` and a top-level `age_ts` (neither is
  // on the kept list), so only `signatures` is left to remove.
  json redacted = redact(event, version);
  redacted.erase("signatures");
  return "$" + base64_url_encode(sha256(canonical_json(redacted)));
}

void sign_event(json& event, const std::string& server_name,
                const signing_key& key, const room_version& version) {
  if (!event.is_object()) return;
  // The signature covers the redacted event, so it survives redaction; the
  // redacted form keeps `signatures`, which sign_json carries over.
  json redacted = redact(event, version);
  sign_json(redacted, server_name, key);
  event["signatures"] = std::move(redacted["signatures"]);
}

void hash_and_sign_event(json& event, const std::string& server_name,
                         const signing_key& key, const room_version& version) {
  add_content_hash(event);
  sign_event(event, server_name, key, version);
}

std::string hash_sign_and_id(json& event, const std::string& server_name,
                             const signing_key& key, const room_version& version) {
  add_content_hash(event);
  // Signature and reference hash cover the same bytes: the canonical
  // redacted event without `signatures` and `unsigned` (redact drops
  // `unsigned`), so one canonicalisation serves both.
  json redacted = redact(event, version);
  redacted.erase("signatures");
  auto bytes = canonical_json(redacted);
  event["signatures"][server_name][key.key_id()] = key.sign_b64(bytes);
  return "$" + base64_url_encode(sha256(bytes));
}

bool verify_event_signature(const json& event, const std::string& server_name,
                            const std::string& key_id, std::string_view pub_raw,
                            const room_version& version) {
  if (!event.is_object()) return false;
  return verify_json(redact(event, version), server_name, key_id, pub_raw);
}

} // namespace axon::matrix
