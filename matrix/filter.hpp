// matrix/filter.hpp -- client-server API filters (POST /user/{userId}/filter,
// /sync?filter=, /rooms/{roomId}/messages?filter=).
// Spec: client-server API "Filtering"; data/api/client-server/definitions/
// sync_filter.yaml, room_event_filter.yaml, event_filter.yaml; appendices
// "Dot-separated property paths" for `event_fields`.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace axon::matrix {

/// EventFilter. An absent list (nullopt) places no restriction; an empty
/// allow list matches nothing. A `not_*` list wins over its allow list.
struct event_filter {
  /// Allowed `type`s; `*` matches any run of characters. Default: absent.
  std::optional<std::vector<std::string>> types;
  /// Excluded `type`s, wildcards as in `types`. Default: absent.
  std::optional<std::vector<std::string>> not_types;
  /// Allowed `sender`s, exact match. Default: absent.
  std::optional<std::vector<std::string>> senders;
  /// Excluded `sender`s, exact match. Default: absent.
  std::optional<std::vector<std::string>> not_senders;
  /// Maximum number of events; -1 when unset (the caller applies its
  /// default and its cap).
  int limit = -1;

  /// True when `ev` (client or federation format) passes the type and
  /// sender lists. An event without a string `type` (or `sender`) fails a
  /// present `types` (or `senders`) list.
  bool match(const nlohmann::json& ev) const;
};

/// RoomEventFilter: an event_filter plus room and content criteria.
struct room_event_filter : event_filter {
  std::optional<std::vector<std::string>> rooms;     ///< allowed room IDs; default absent
  std::optional<std::vector<std::string>> not_rooms; ///< excluded room IDs, win over `rooms`
  bool lazy_load_members = false;           ///< default false
  bool include_redundant_members = false;   ///< default false; only with lazy_load_members
  bool unread_thread_notifications = false; ///< default false; /sync only
  /// true: only events whose content has a string `url`; false: only events
  /// without one; absent (default): `url` is not considered.
  std::optional<bool> contains_url;

  /// event_filter::match, the event's `room_id` against `match_room`, and
  /// `contains_url`. For events without `room_id` (ephemeral, account data)
  /// check the room with `match_room` and use event_filter::match.
  bool match(const nlohmann::json& ev) const;
  /// True when `room_id` passes `rooms` / `not_rooms`.
  bool match_room(const std::string& room_id) const;
};

/// RoomFilter: which rooms /sync covers and a filter per section.
struct room_filter {
  /// Allowed room IDs, applied before the section filters. Default: absent.
  std::optional<std::vector<std::string>> rooms;
  /// Excluded room IDs; win over `rooms`. Default: absent.
  std::optional<std::vector<std::string>> not_rooms;
  room_event_filter timeline, state, ephemeral, account_data;
  bool include_leave = false; ///< default false: left rooms are omitted

  /// True when `room_id` passes `rooms` / `not_rooms`.
  bool match_room(const std::string& room_id) const;
};

/// Filter (the top-level definition stored by POST /user/{userId}/filter).
struct sync_filter {
  std::vector<std::string> event_fields; ///< dotted paths to keep; empty keeps every field
  std::string event_format = "client";   ///< "client" or "federation"
  event_filter presence;                 ///< presence updates
  event_filter account_data;             ///< global account data
  room_filter room;
};

/// Parses and validates a Filter. Unknown keys are ignored (forward
/// compatibility, as Synapse does). Returns nullopt and, when `why` is
/// non-null, sets *why on invalid input: a non-object, a wrongly typed field,
/// an `event_format` other than client/federation, a negative or fractional
/// `limit`, a room ID not starting with '!' or a user ID not starting with
/// '@'. A `limit` beyond INT_MAX is clamped. Never throws.
std::optional<sync_filter> parse_sync_filter(const nlohmann::json& j, std::string* why);

/// Parses a RoomEventFilter (the `filter` parameter of /messages and
/// /context) with the same rules as `parse_sync_filter`.
std::optional<room_event_filter> parse_room_event_filter(const nlohmann::json& j, std::string* why);

/// Splits a dotted property path: unescaped '.' separates, "\." and "\\"
/// stand for '.' and '\', any other backslash is literal (appendices,
/// "Dot-separated property paths"). Empty segments are kept.
std::vector<std::string> split_event_field(const std::string& path);

/// A copy of the client event `ev` holding only the given dotted paths
/// (`event_fields`), with the objects leading to them. Missing paths are
/// skipped; an empty `fields` returns `ev` unchanged, as does a non-object.
nlohmann::json apply_event_fields(const nlohmann::json& ev, const std::vector<std::string>& fields);

} // namespace axon::matrix
