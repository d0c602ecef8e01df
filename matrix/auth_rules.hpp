// matrix/auth_rules.hpp -- the authorisation rules of room versions 1 to 11.
// Spec: "Authorisation rules" of rooms/v1 (fragment v1-auth-rules, also v2),
// v3 (v3-auth-rules, also v4, v5), v6, v7, v8 (v8-auth-rules, also v9), v10
// and v11; server-server API "Auth events selection"; client-server API
// `m.room.power_levels`. Comments number rules as v10 does (v1-v5 have the
// extra rule 4 for m.room.aliases, so their later rules are one higher).
//
// What differs, by room_version flag: m.room.aliases rule (v1-v5), the
// redaction rule 11 (v1/v2, event_format::v1), `notifications` in the
// power_levels rule (v6+), knocking (v7+), restricted joins and
// join_authorised_via_users_server (v8+), knock_restricted and strictly
// integer power levels (v10+; before, strings holding integers, and before
// v6 floats, are accepted), the create event's `creator` (until v10).
// Strict canonical JSON (v6+) is a check on the whole event, made where the
// event is received or built, not here.
//
// Pure functions over full event JSON (federation format). They never throw
// on malformed input: a wrongly typed field makes `check_auth` reject, and
// the power level helpers fall back to the spec defaults.
#pragma once

#include "matrix/room_version.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace axon::matrix {

/// A state key tuple: (event type, state_key).
using state_key_pair = std::pair<std::string, std::string>;

/// State events relevant to authorisation, as full event JSON, keyed by
/// (type, state_key). Entries should carry `event_id`: the creator's first
/// join (rule 4.3.1) compares `prev_events` (ids, or v1/v2 [id, hashes]
/// pairs) against the create event's id.
using auth_state = std::map<state_key_pair, nlohmann::json>;

/// The state entries that authorise `event` (server-server API "Auth events
/// selection"): none for m.room.create; otherwise the create event, the power
/// levels, the sender's membership and, for m.room.member, the target's
/// membership, the join rules (membership join/invite/knock), the
/// m.room.third_party_invite named by `content.third_party_invite.signed.token`
/// (invites) and the membership of `content.join_authorised_via_users_server`
/// (joins, in versions with restricted rooms: v8+). Duplicates are removed;
/// malformed fields are skipped.
std::vector<state_key_pair> auth_types_for_event(const nlohmann::json& event,
                                                 const room_version& v);

/// nullopt when `event` passes the authorisation rules of room version `v`
/// against `state`, the room state before the event (at least the entries of
/// `auth_types_for_event`); otherwise a human-readable reason for rejection.
///
/// Checks about the `auth_events` list itself (rules 2.1-2.3: duplicates,
/// unexpected entries, rejected entries) need event ids and rejection status,
/// so they belong to the caller that resolves the list into `state`; here
/// rule 2.4 (a create event is present) and 2.5 (same room) are checked.
/// Signatures are not verified here either; rule 4.2 only checks that the
/// authorising server's signature is present when the event carries a
/// `signatures` object. Third-party invite signatures (rule 4.4.1.7) are
/// verified with ed25519 against the keys of the m.room.third_party_invite.
std::optional<std::string> check_auth(const nlohmann::json& event, const auth_state& state,
                                      const room_version& v);

/// The user's power level: `users[user_id]`, else `users_default`, else 0.
/// With no m.room.power_levels, the room creator has 100 and everyone else
/// 0; the creator is the create event's `sender` in v11 (and when the create
/// event names no version with `creator` semantics), `content.creator` in
/// earlier versions, decided by the create event's `content.room_version`.
int64_t user_power_level(const auth_state& state, const std::string& user_id);

/// The level required to send an event of `type` (the spec's "required power
/// level"): `events[type]`, else `state_default` (default 50) for state
/// events or `events_default` (default 0) otherwise.
int64_t required_event_level(const auth_state& state, const std::string& type, bool is_state);

/// A named level of the m.room.power_levels content, with the spec defaults
/// when absent: "invite" 0, "kick" 50, "ban" 50, "redact" 50,
/// "state_default" 50, "events_default" 0, "users_default" 0; any other name
/// defaults to 0.
int64_t named_power_level(const auth_state& state, const std::string& name);

/// Whether a redaction that passed `check_auth` may be applied to `target`
/// (rooms/fragments/v3-handling-redactions, unchanged in v10 and v11): the
/// redaction's sender has at least the redact level, or its server is the
/// target's sender's server. The auth rules themselves ignore the redact
/// level. The caller matches the redaction's `redacts` (top level in v10,
/// `content.redacts` in v11) to `target` and checks they share a room.
bool redaction_allowed(const nlohmann::json& redaction, const nlohmann::json& target,
                       const auth_state& state);

} // namespace axon::matrix
