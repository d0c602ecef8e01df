// matrix/state_res.hpp -- state resolution: the room state where the room's
// DAG forks and joins again.
// Spec: rooms/fragments/v2-state-res (room versions 2-11) and rooms/v1
// "State resolution" (room version 1). Synapse: synapse/state/v2.py, v1.py;
// the tests port tests/state/test_v2.py.
//
// Pure: events come from the caller through `state_res_events`; nothing is
// fetched, stored or logged here, and malformed input never throws. Axon
// builds local rooms linearly (one writer per room), so this is needed once
// events arrive over federation with `prev_events` on different branches.
//
// Where the spec leaves room, Synapse's choices are kept so that servers
// converge: the auth chain of a state set includes the set's own events
// (an unconflicted event never enters the auth difference); m.room.create
// counts as a power event, and m.room.power_levels and m.room.join_rules
// only with state_key ""; a sender's power level for the power ordering
// comes from the power levels among the event's own auth events (else 100
// for the room creator, else 0); auth events that the caller does not know
// are skipped; events that are not state events are left out.
#pragma once

#include "matrix/auth_rules.hpp"
#include "matrix/room_version.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace axon::matrix {

/// A room state as event ids: (type, state_key) -> event_id.
using state_map = std::map<state_key_pair, std::string>;

/// Where state resolution reads events.
struct state_res_events {
  /// The full event (federation format, with `event_id`) for an id, or
  /// nullptr when the caller does not know it. Every state event in the
  /// state sets and their auth chains should be known; unknown ones are
  /// skipped (an unknown event in a state set stays only where it is
  /// unconflicted). A returned pointer must stay valid during the call.
  /// Each id is asked for at most once per resolution.
  std::function<const nlohmann::json*(const std::string& event_id)> get;
  /// Optional: whether the event was rejected. Rejected events are never
  /// used as auth events in the iterative auth checks (v2) or as the state
  /// the conflicted events are checked against; as members of the
  /// conflicted set they are handled as usual (spec "Rejected events").
  /// Unset means nothing is rejected.
  std::function<bool(const std::string& event_id)> rejected;
};

/// The resolution of `state_sets` in room version `v`: algorithm v2 for
/// rooms 2-11, v1 for room 1 (`v.state_res`). With no sets the result is
/// empty; with one set it is that set. nullopt, with the reason in `why`
/// when given, when events of the conflicted set belong to different rooms
/// or `events.get` is unset.
std::optional<state_map> resolve_state(const room_version& v,
                                       const std::vector<state_map>& state_sets,
                                       const state_res_events& events,
                                       std::string* why = nullptr);

} // namespace axon::matrix
