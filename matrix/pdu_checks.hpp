// matrix/pdu_checks.hpp -- the first checks on a PDU received over
// federation, before any auth rule runs.
// Spec: server-server API "Checks performed on receipt of a PDU", steps 1-3
// (1: a valid event of its room version, else dropped; 2: signature checks,
// else dropped; 3: hash checks, else redacted), "Validating hashes and
// signatures on received events"; the event formats of rooms v1-v11 (pdu_v1,
// pdu_v3, pdu_v4, pdu_v6, pdu_v11) and rooms/fragments v5-signing-requirements
// and v6-canonical-json; client-server API "Size limits".
// Synapse: federation_base.py (event_from_pdu_json, _check_sigs_on_pdu,
// _check_sigs_and_hash), event_auth.py (_check_size_limits),
// federation_event.py (_sanity_check_event).
//
// Pure: keys come in through a callback, nothing is fetched. Malformed input
// is the expected case (other servers may be hostile): it gives a reason,
// never an exception.
#pragma once

#include "matrix/room_version.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace axon::matrix {

/// Largest PDU: its canonical JSON, `unsigned` left out (client-server API
/// "Size limits"; see check_pdu_format).
inline constexpr size_t max_pdu_bytes = 65536;
/// Most entries in `prev_events` / `auth_events` (pdu schemas; Synapse's
/// _sanity_check_event).
inline constexpr size_t max_prev_events = 20;
inline constexpr size_t max_auth_events = 10;

/// Step 1: nullopt when `pdu` is a valid event of room version `v`, else the
/// first reason it is not. Checks:
/// - an object with `room_id` (a room id), `sender` (a user id), `type`
///   (string), `content` (object), `origin_server_ts` (int64), `depth`
///   (integer in [0, 2^63-1]; [0, 2^53-1] from v6, depth_v6), `hashes`
///   (object with a string `sha256`), `signatures` (object of objects of
///   strings), `prev_events` (at most 20) and `auth_events` (at most 10) in
///   the version's format: v1/v2 [event_id, {"sha256": string}] pairs, v3+
///   event id strings of the form the version names events by ("$" + 43
///   characters of standard (v3) or URL-safe (v4+) base64);
/// - `state_key` a string when present; in v1-v10 `redacts` a string when
///   present (v11 moves it into content);
/// - v1/v2: `event_id` present, "$opaque:server" with a valid server name.
///   From v3 an `event_id` key is ignored (the id is the reference hash);
/// - v8+: a join carrying content.join_authorised_via_users_server names a
///   valid user id (step 2 needs that user's server);
/// - sizes: `sender`, `room_id`, `event_id`, `type`, `state_key` at most
///   255 bytes each; the canonical JSON at most 65536 bytes;
/// - v6+: valid canonical JSON (integers within +-(2^53-1), no floats).
/// The last two leave `unsigned` out: no signature or hash covers it, any
/// server relaying the event may change it, and Synapse cuts it down to a
/// few known keys before measuring. Callers should do likewise before
/// storing it.
std::optional<std::string> check_pdu_format(const nlohmann::json& pdu,
                                            const room_version& v);

/// A server whose signature step 2 requires, and the time its key must be
/// valid at (origin_server_ts when v.enforce_key_validity (v5+), else 0: any
/// key the server ever had).
struct required_signature {
  std::string server;
  int64_t valid_at_ms = 0;
  friend bool operator==(const required_signature& a, const required_signature& b) {
    return a.server == b.server && a.valid_at_ms == b.valid_at_ms;
  }
};

/// The servers that must have signed `pdu`, each once ("Validating hashes
/// and signatures on received events", Synapse's _check_sigs_on_pdu):
/// - the sender's server, except for an invite made from a third-party
///   invite (m.room.member, membership "invite", content.third_party_invite
///   present): its sender must match the m.room.third_party_invite event,
///   which the auth rules check, while another server may send it;
/// - v1/v2: the server of the `event_id` when it differs from the sender's;
/// - v8+ (MSC3083): for a join with content.join_authorised_via_users_server,
///   that user's server.
/// For an event check_pdu_format accepted. On a malformed one, servers whose
/// id cannot be read are left out (check_pdu_signatures refuses it then).
std::vector<required_signature> required_signatures(const nlohmann::json& pdu,
                                                    const room_version& v);

/// The public key (32 raw bytes) of `server`'s `key_id` ("ed25519:..."),
/// if known and valid at `valid_at_ms` (0: at any time); else nullopt. The
/// caller's key store applies the v5 rule of counting a key as valid for at
/// most 7 days after it was fetched.
using key_lookup = std::function<std::optional<std::string>(
    const std::string& server, const std::string& key_id, int64_t valid_at_ms)>;

/// Step 2: nullopt when every required server (required_signatures) signed
/// the redacted form of `pdu`, else why not. For each server, signatures by
/// key ids `keys` does not know (or not as valid at the time asked) are
/// skipped; every remaining one must verify, and at least one must remain
/// (Synapse's Keyring.process_request). Only ed25519 key ids are looked up.
/// Redacting first means a redacted copy passes as well as the full event.
/// `signed_bytes`, when given, receives the bytes the signatures cover,
/// which are those of the reference hash (event_id_from_reference_bytes).
std::optional<std::string> check_pdu_signatures(const nlohmann::json& pdu,
                                                const room_version& v,
                                                const key_lookup& keys,
                                                std::string* signed_bytes = nullptr);

/// The event to process further after step 3.
struct hash_result {
  nlohmann::json event;  ///< `pdu` as received, or its redacted form
  bool redacted = false; ///< true when the content hash did not match
};

/// Step 3: `pdu` itself when hashes.sha256 matches its content hash, else
/// redact(pdu, v): "it is assumed that this is because we have only been
/// given a redacted version of the event", and the receiver uses the copy it
/// redacted itself. Run after step 2: signatures cover the redacted form,
/// so the redacted copy is still signed.
hash_result check_pdu_hash(const nlohmann::json& pdu, const room_version& v);

} // namespace axon::matrix
