// matrix/room_version.hpp -- the room versions Axon supports and how they differ.
// Spec: "Room versions" (rooms/v1 ... rooms/v11); Synapse keeps the same
// flags in synapse/api/room_versions.py.
#pragma once

#include <string>
#include <string_view>

namespace axon::matrix {

/// How events of a room version are shaped and named.
enum class event_format {
  /// Rooms v1, v2 (rooms/fragments/v1-event-ids): `event_id`
  /// ("$opaque:server", chosen by the sending server) is part of the event,
  /// and `prev_events` / `auth_events` are [event_id, {"sha256": hash}] pairs.
  v1,
  /// Room v3: no `event_id` in the event; the id is "$" + unpadded standard
  /// base64 of the reference hash; plain lists of event ids.
  v2,
  /// Rooms v4 and later (rooms/fragments/v4-event-ids): as v2, with URL-safe
  /// unpadded base64.
  v3,
};

/// Which state resolution algorithm a room version uses. Axon's rooms are
/// linear (one writer per room builds every event on the one before), so
/// neither is needed to create and run rooms locally; it matters once events
/// come in over federation.
enum class state_resolution { v1, v2 };

struct room_version {
  std::string id;                  ///< "1" ... "11"
  bool stable = true;
  event_format format = event_format::v3;
  state_resolution state_res = state_resolution::v2; ///< v1 in room v1 only
  /// v5+ (rooms/fragments/v5-signing-requirements): a signing key must be
  /// valid at the event's origin_server_ts. For checking remote signatures.
  bool enforce_key_validity = true;
  /// v1-v5: m.room.aliases has its own auth rule (rule 4) and keeps
  /// `aliases` on redaction; MSC2432 removes both in v6.
  bool special_case_aliases = false;
  /// v6+ (rooms/fragments/v6-canonical-json): events must be canonical JSON
  /// (integers in [-(2^53)+1, 2^53-1], no floats). Before, power levels may
  /// be floats (rooms/fragments/v1-floaty-power-levels).
  bool strict_canonical_json = true;
  /// v6+ (MSC2209): the power_levels rule also checks `notifications`.
  bool notifications_power_levels = true;
  bool knock = true;               ///< v7+ (MSC2403): membership and join rule "knock"
  /// v8+ (MSC3083): join rule "restricted", `join_authorised_via_users_server`
  /// in the auth rules, and m.room.join_rules keeps `allow` on redaction.
  bool restricted = true;
  /// v9+ (MSC3375): m.room.member keeps `join_authorised_via_users_server`
  /// on redaction.
  bool redaction_keeps_authorising_user = true;
  bool knock_restricted = true;    ///< v10+ (MSC3787): join rule "knock_restricted"
  bool integer_power_levels = true;///< v10+ (MSC3667): power levels must be integers, not strings
  /// v11 (MSC2174/MSC2175/MSC2176/MSC3821/MSC3989): `redacts` moves into
  /// content, m.room.create has no `creator`, the create event keeps all
  /// content on redaction, power_levels keeps `invite`, redaction drops the
  /// top-level `origin`, `membership` and `prev_state`, and the sender of
  /// m.room.create is the creator.
  bool v11_rules = false;
};

/// The version description, or nullptr when unsupported.
const room_version* find_room_version(std::string_view id);

/// Every supported version id, newest first, ending with nullptr.
const char* const* supported_room_versions();

} // namespace axon::matrix
