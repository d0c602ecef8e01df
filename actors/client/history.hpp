// actors/client/history.hpp -- what of a room's history a user may read:
// m.room.history_visibility and their memberships applied on every path that
// returns events (matrix/visibility.hpp holds the rule itself).
#pragma once

#include "actors/client/common.hpp"
#include "matrix/visibility.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace axon::client {

/// The requesting user's view of room `room_id` up to position `upto`, from
/// the database. `peeking` as matrix::room_visibility.
matrix::room_visibility history_view(request& req, const std::string& room_id, int64_t upto,
                                     bool peeking);

/// Whether the room's current history visibility is world_readable (anyone
/// may read it, members or not: spec "World Readable Rooms").
bool world_readable_now(request& req, const std::string& room_id);

/// Where the requesting user stands in a room, for reading it: joined
/// (since their join), departed (left or banned, up to that), or neither.
struct room_reader {
  bool joined = false;
  bool departed = false;
  std::string membership;           ///< join, leave or ban; "" for neither
  int64_t joined_since = INT64_MAX; ///< the current join, while joined
  int64_t left_at = INT64_MAX;      ///< the leave or ban, while departed

  /// How far they may read a room whose events reach `now_pos`.
  int64_t until(int64_t now_pos) const { return std::min(now_pos, left_at); }
};

/// The requesting user's current standing in room `room_id`.
room_reader reader_of(request& req, const std::string& room_id);

/// M_FORBIDDEN unless the reader is or was a member, or the room is
/// world_readable (Synapse's check_user_in_room_or_world_readable, departed
/// users allowed). Returns whether they read as a peeker (never a member).
bool require_reader(request& req, const std::string& room_id, const room_reader& r);

/// Whether the requesting user may see `event` at `position` of room
/// `room_id` (Synapse's get_event: whoever is not joined now reads as a
/// peeker). An event they may not see is "not found".
bool may_see_event(request& req, const std::string& room_id, const json& event, int64_t position);

/// Filters events as they are read, loading the user's view only when an
/// event needs it: events at or after `always_from` (the user's current
/// join, when they are joined) are visible without a query.
class history_filter {
public:
  history_filter(request& req, std::string room_id, int64_t upto, bool peeking,
                 int64_t always_from = INT64_MAX)
    : req_(req), room_id_(std::move(room_id)), upto_(upto), peeking_(peeking),
      always_from_(always_from) {}
  /// For `reader`, events up to `upto`.
  history_filter(request& req, std::string room_id, const room_reader& reader, int64_t upto,
                 bool peeking)
    : history_filter(req, std::move(room_id), upto, peeking, reader.joined_since) {}

  bool allows(const json& event, int64_t position);

private:
  /// The rule with the state after the event from its state group, not the
  /// stream: `if_none` when the event has no group (stored before groups).
  bool allows_by_group(const json& event, bool if_none);

  request& req_;
  std::string room_id_;
  int64_t upto_;
  bool peeking_;
  int64_t always_from_;
  std::optional<matrix::room_visibility> view_;
  /// State group -> (history visibility, the user's membership) there.
  std::map<int64_t, std::pair<matrix::history_visibility, std::string>> groups_;
};

} // namespace axon::client
