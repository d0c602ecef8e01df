// matrix/event_hash.hpp -- event-level crypto: redaction, content hashes,
// reference hashes (event ids) and event signatures.
// Spec: server-server API "Signing Events" (content hash, reference hash),
// the redaction algorithm of each room version (rooms/fragments
// v1-redactions, v6-redactions, rooms/v8, v9-redactions, v11-redactions), and
// event ids (v1-event-ids, rooms/v3 "Event IDs", v4-event-ids).
#pragma once

#include "matrix/crypto.hpp"
#include "matrix/room_version.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace axon::matrix {

/// The event as the spec's redaction algorithm for `version` leaves it:
/// top-level keys outside the version's list dropped (including `unsigned`),
/// `content` cut down to the keys its type keeps. A non-object event gives
/// an empty object; a missing or non-object `content` gives `{}`.
nlohmann::json redact(const nlohmann::json& event, const room_version& version);

/// Unpadded base64 of the SHA-256 of the canonical JSON of `event` without
/// `unsigned`, `signatures` and `hashes` (the content hash).
std::string compute_content_hash(const nlohmann::json& event);

/// Sets event.hashes.sha256 to `compute_content_hash(event)`, keeping any
/// other hashes. `event` must be an object; anything else is left unchanged.
void add_content_hash(nlohmann::json& event);

/// True when event.hashes.sha256 is present, decodes, and equals the
/// content hash of `event`.
bool verify_content_hash(const nlohmann::json& event);

/// Unpadded standard base64 of the event's reference hash: SHA-256 of the
/// canonical JSON of the redacted event without `signatures`, `unsigned` and
/// `age_ts` (server-server API "Calculating the reference hash"). Names
/// events in v1/v2 `prev_events` and `auth_events` pairs. From v3 on
/// `event_id` is not part of an event: hash a stored copy without it.
std::string compute_reference_hash(const nlohmann::json& event,
                                   const room_version& version);

/// The event id of `event`: in v1/v2 (event_format::v1) its own `event_id`
/// ("" when it has none); from v3 on "$" + unpadded base64 of its reference
/// hash, standard in v3, URL-safe from v4. Stable under adding signatures or
/// unsigned data.
std::string compute_event_id(const nlohmann::json& event,
                             const room_version& version);

/// compute_event_id when the bytes of the reference hash are at hand
/// (check_pdu_signatures gives them: signatures cover the same bytes), so
/// they are not made again.
std::string event_id_from_reference_bytes(const nlohmann::json& event, std::string_view bytes,
                                          const room_version& version);

/// Signs the redacted form of `event` as `server_name` and stores the
/// signature in event.signatures (other signatures kept). Call
/// `add_content_hash` first: the signature covers `hashes`. In v1/v2 the
/// event must carry its `event_id` already: the signature covers it.
void sign_event(nlohmann::json& event, const std::string& server_name,
                const signing_key& key, const room_version& version);

/// `add_content_hash` then `sign_event`: what a server does to an event it
/// creates.
void hash_and_sign_event(nlohmann::json& event, const std::string& server_name,
                         const signing_key& key, const room_version& version);

/// For a new event without signatures: hash_and_sign_event, then returns
/// compute_event_id (and, when asked, stores compute_reference_hash in
/// `reference_hash`), canonicalising once for all of them.
std::string hash_sign_and_id(nlohmann::json& event, const std::string& server_name,
                             const signing_key& key, const room_version& version,
                             std::string* reference_hash = nullptr);

/// One entry of a `prev_events` or `auth_events` list in the version's
/// format: the event id (v3+), or [event_id, {"sha256": reference_hash}]
/// (v1/v2, pdu_v1 schema).
nlohmann::json event_reference(const std::string& event_id, const std::string& reference_hash,
                               const room_version& version);

/// The event ids of a `prev_events` or `auth_events` list in either format;
/// malformed entries are skipped.
std::vector<std::string> referenced_event_ids(const nlohmann::json& references);

/// True when the redacted form of `event` carries a valid signature by
/// `server_name` under `key_id` for the 32-byte public key `pub_raw`.
bool verify_event_signature(const nlohmann::json& event,
                            const std::string& server_name,
                            const std::string& key_id, std::string_view pub_raw,
                            const room_version& version);

} // namespace axon::matrix
