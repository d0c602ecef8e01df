// matrix/visibility.hpp -- who may see which room event: m.room.history_visibility.
// Spec: client-server API "Room history visibility" (world_readable, shared,
// invited, joined); the rules as Synapse 1.67 applies them
// (synapse/visibility.py, _check_client_allowed_to_see_event), so that users
// moving from Synapse see the same history.
//
// Rooms in Axon have one linear history per room (one writer builds every
// event on the room's latest state), so "the state at an event" is the newest
// state event per key at or before it, the event itself included: Synapse's
// state *after* the event. That is why a user sees their own join, and why
// their own leave needs the special case below.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace axon::matrix {

/// The four values, in order from the least to the most restrictive
/// (Synapse's VISIBILITY_PRIORITY).
enum class history_visibility { world_readable, shared, invited, joined };

/// The value of an m.room.history_visibility content; anything missing or
/// unknown counts as `shared` (spec: "the default ... is shared").
history_visibility parse_history_visibility(const nlohmann::json& content);

/// One state change that matters for one user's view of one room: an
/// m.room.history_visibility event, or one of the user's m.room.member events.
struct visibility_change {
  int64_t position = 0;   ///< the event's stream position
  bool is_visibility = false;
  history_visibility visibility = history_visibility::shared; ///< when is_visibility
  std::string membership; ///< the user's membership after it, when !is_visibility
};

/// What a user saw of a room over time: the changes up to some position,
/// in position order. Answers "may this user see this event".
class room_visibility {
public:
  /// `changes` in increasing position order. `peeking`: the user is not a
  /// member of the room now and has not been since the events asked about
  /// (Synapse's is_peeking: /event and /context of a room the user is not
  /// joined to, reads of a world_readable room by a non-member); `shared`
  /// history is then hidden from them.
  room_visibility(std::string user_id, std::vector<visibility_change> changes, bool peeking);

  /// True when the user may see `event` (full event JSON with `unsigned`
  /// as stored, at stream position `position`).
  bool allows(const nlohmann::json& event, int64_t position) const;

  /// The history visibility and the user's membership in the state after
  /// position `position` ("" when they had none).
  history_visibility visibility_at(int64_t position) const;
  std::string membership_at(int64_t position) const;

  /// Synapse's _user_can_see_state_at_event: whether the user may see the
  /// room's state at `position` (/members?at=). `joined_now`: their current
  /// membership is join (shared history is theirs only then).
  bool allows_state_at(int64_t position, bool joined_now) const;

private:
  std::vector<visibility_change> vis_;     ///< history visibility changes
  std::vector<visibility_change> members_; ///< the user's membership changes
  std::string user_id_;
  bool peeking_;
};

/// The rule itself, for one event: `visibility` and `membership` (the user's,
/// "" for none) are those of the state after the event.
bool event_visible(const nlohmann::json& event, const std::string& user_id,
                   history_visibility visibility, const std::string& membership, bool peeking);

} // namespace axon::matrix
