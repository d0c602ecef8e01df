// actors/events/writer_room.hpp -- what the events writer keeps of a room it
// owns, and the state-group bookkeeping both of its paths share: events it
// builds for local clients (events_writer.cpp) and events other servers
// built (remote_events.cpp).
//
// State groups (migration 020): every event in the room DAG gets the group
// of the room's state after it. A state event makes a new group, stored as
// a one-row delta of the group before it, or whole once a chain has 100
// deltas (Synapse's MAX_STATE_DELTA_HOPS) or when the state before it is
// not a stored group (after a resolution). Others share their group.
#pragma once

#include "matrix/auth_rules.hpp"
#include "matrix/room_version.hpp"
#include "matrix/state_res.hpp"
#include "messages/events.hpp"
#include "messages/errors.hpp"
#include "messages/streams.hpp"
#include "storage/stores/events_store.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace axon::actors {

/// Recent transaction ids of a room and when they were used.
struct txn_map {
  std::unordered_map<std::string, std::pair<std::string, int64_t>> ids; ///< key -> (event, ts)
  size_t prune_at = 1024;
};

/// What the writer keeps of a room it owns: enough to build and authorise the
/// next event without reading the database.
struct room_cache {
  const matrix::room_version* version = nullptr;
  matrix::auth_state state; ///< current state, full events
  std::vector<std::string> extremities;
  /// Rooms v1/v2 only: the extremities' reference hashes, in the same order
  /// (their `prev_events` name each event with its hash).
  std::vector<std::string> extremity_hashes;
  int64_t depth = 0;
  /// The state group equal to `state`, 0 when none is (see the top), and
  /// how many deltas its chain has.
  int64_t group = 0;
  int chain = 0;
  /// Other servers with joined members (the federation sender's
  /// destinations); recomputed when `servers_stale`.
  std::vector<std::string> servers;
  bool servers_stale = true;
  /// Whether a redaction of the room waits for its target (only then are
  /// arriving events looked up in pending_redactions).
  bool pending_redactions = false;
  /// Transaction ids of the last day ("user\ndevice\ntxn" -> event id): the
  /// writer is the only one writing this room, so memory is authoritative.
  std::shared_ptr<txn_map> txns;
};

/// Result of building one request: the events to write or an error.
struct built_request {
  std::vector<storage::event_to_persist> events;
  std::vector<msg::events_row> rows;
  msg::send_events_reply reply;
  std::optional<std::pair<errc, std::string>> error;
  bool touched_cache = false;
};

/// Synapse's MAX_STATE_DELTA_HOPS.
constexpr int max_group_chain = 100;

/// `state` as ids.
matrix::state_map state_ids(const matrix::auth_state& state);

/// Gives `p` (an event at stream position p.stream_ordering whose state
/// after is `after`) its state group, updating rc.group/rc.chain when the
/// event extends the room's current state (`current`): a state event gets a
/// new group, a delta of `before_group` (the group of the state before it;
/// 0: unknown, so written whole); others share `before_group`, or get one
/// written whole when it is 0.
void assign_group(storage::event_to_persist& p, bool is_state, const nlohmann::json& ev,
                  int64_t before_group, int before_chain, const matrix::auth_state& after,
                  int64_t* group_out, int* chain_out);

/// Other servers whose users are joined in `state` (sorted, without `self`).
std::vector<std::string> joined_servers(const matrix::auth_state& state, const std::string& self);

/// Where the writer's remote path reads and allocates.
struct remote_context {
  storage::events_store& store;
  std::string server_name;
  std::function<int64_t()> next_position;
  /// Push actions for a timeline event, given the state before it.
  std::function<std::vector<storage::push_action>(const nlohmann::json&, const matrix::auth_state&)> push;
  int64_t now_ms = 0;
  /// `n` negative positions for backfilled history (lowest first).
  std::function<std::vector<int64_t>(size_t)> backfill_positions;
};

/// Places the events of a request from another server (send_events.pdus,
/// .outliers, .join_state) into `rc` (a fresh cache with only `version`
/// set when req.new_room): fills out.events, out.rows and
/// out.reply.pdu_errors. An error for the request as a whole (a join_state
/// without its create event) comes back; per-pdu failures are in
/// pdu_errors.
std::optional<std::pair<errc, std::string>> accept_remote(remote_context& ctx,
                                                          const msg::send_events& req,
                                                          room_cache& rc, built_request& out);

/// Places history another server gave (send_events.backfill: its pdus,
/// with their auth chains in .outliers and the state after the prev events
/// this server lacks in .prev_states): each checked against its own auth
/// events and the state before it, stored at a negative position with its
/// state group; the room's current state, extremities and cache stay as
/// they are. Per-pdu results in out.reply.pdu_errors.
std::optional<std::pair<errc, std::string>> accept_backfill(remote_context& ctx, const msg::send_events& req,
                                                            room_cache& rc, built_request& out);

/// Whether `req` is an out-of-band membership: one m.room.member event
/// (join_state, nothing else) of a room this server is not in, an invite
/// for one of its users or their leave rejecting it, kept without the
/// room's state to check it against (spec: such events are outliers).
bool out_of_band(const msg::send_events& req);

/// Places an out-of-band membership: stored as room state at a new
/// position (readers see the membership; the room's timeline nothing).
std::optional<std::pair<errc, std::string>> accept_out_of_band(remote_context& ctx, const msg::send_events& req,
                                                               built_request& out);

} // namespace axon::actors
