// storage/stores/events_store.hpp -- the events table: what readers (sync,
// /messages, /context) query, and what an events writer persists.
#pragma once

#include "storage/database.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

namespace axon::storage {

struct stored_event {
  int64_t stream_ordering = 0;
  nlohmann::json json;
};

/// What an events writer needs to take a room over.
struct room_snapshot {
  std::string room_version;
  std::vector<nlohmann::json> state;    ///< current state events
  std::vector<std::string> extremities; ///< forward extremities
  int64_t max_depth = 0;
  /// The state group of the current state, when one is known to equal it
  /// (one extremity, stored with its group); else 0.
  int64_t state_group = 0;
  /// Whether any redaction of the room waits for its target.
  bool pending_redactions = false;
};

/// What an event means for one local user's notifications (migration 012).
struct push_action {
  std::string user_id;
  std::string thread_id; ///< "main" or the thread root's event id
  bool notify = false;
  bool highlight = false;
  std::string actions;   ///< JSON array text
};

/// One (type, state_key) -> event entry of a state group.
struct state_row {
  std::string type, state_key, event_id;
};

/// A change of the room's current state (current_state_events).
struct current_state_change {
  std::string type, state_key;
  std::string event_id;      ///< empty: the key leaves the state
  std::string membership;    ///< m.room.member's, else empty
  int64_t stream_ordering = 0;
  bool local_member = false; ///< state_key is a local user
};

/// Where an event is kept (migration 020).
enum class event_place {
  timeline,     ///< events, in the room's timeline
  join_state,   ///< events (outlier 1): state another server gave at our join
  outlier,      ///< event_outliers: auth chains, rejected and soft-failed events
  /// events, in the timeline at a negative position (migration 022): history
  /// another server gave for /messages; never current state or extremities
  backfilled,
};

/// One event ready to be written, built and authorised by the writer.
struct event_to_persist {
  event_place place = event_place::timeline;
  std::string rejected;       ///< outlier: why it was refused, else empty
  bool soft_failed = false;   ///< outlier
  /// The group of the room's state after the event (0: none), written here
  /// when group_rows is set: a delta of group_prev, or whole (group_prev 0).
  int64_t state_group = 0;
  int64_t group_prev = 0;
  std::vector<state_row> group_rows;
  bool new_group = false;
  /// Set: the room's current state changes so (a resolution), instead of
  /// this event replacing its own key.
  std::optional<std::vector<current_state_change>> current_state;
  /// Servers the federation sender sends the event to (federation_pdu_outbox).
  std::vector<std::string> destinations;
  int64_t stream_ordering = 0;
  std::string event_id, room_id, type, sender;
  std::optional<std::string> state_key;
  int64_t depth = 0, origin_server_ts = 0;
  std::string membership;     ///< m.room.member content.membership, else empty
  bool local_member = false;  ///< state_key is a local user (track membership)
  std::string redacts;        ///< m.room.redaction target, else empty
  std::string redacted_json;  ///< the target's redacted JSON, with redacts
  /// A redaction whose target is not known yet (pending_redactions): the
  /// target's id, and whether the redact power level allowed it.
  std::string pending_redacts;
  bool pending_by_power = false;
  /// An event stored before (join state): only its new state group is
  /// written and recorded as its group, and its place in the timeline
  /// (timeline_ordering, migration 022) set.
  bool only_group = false;
  int64_t timeline_ordering = 0;
  /// The redaction this event arrives redacted by (json is redacted).
  std::string redacted_by;
  std::vector<std::string> prev_events;
  std::string json;           ///< full signed event
  std::string txn_user, txn_device, txn_id; ///< transaction id, when given
  std::string room_version;   ///< set on m.room.create: the room row is created
  std::vector<push_action> push_actions; ///< stored with the event
};

/// One state change that decides what a user sees of a room's history: an
/// m.room.history_visibility event (its `content`) or one of the user's
/// m.room.member events (its `membership`).
struct visibility_row {
  int64_t stream_ordering = 0;
  bool is_visibility = false;
  nlohmann::json content;
  std::string membership;
};

class events_store {
public:
  explicit events_store(pool& p) : pool_(p) {}

  std::optional<stored_event> get_event(const std::string& event_id);
  /// An event known to the room DAG: in events (any place) or event_outliers.
  struct dag_event {
    nlohmann::json json;
    event_place place = event_place::timeline;
    int64_t stream_ordering = 0; ///< 0 for outliers
    int64_t state_group = 0;     ///< 0: none recorded
    std::string rejected;
    bool soft_failed = false;
  };
  /// The events of `ids` that are known, by id (two queries at most).
  std::map<std::string, dag_event> dag_events(const std::vector<std::string>& ids);
  /// The state of a state group: (type, state_key) -> event id, resolving
  /// its chain of deltas in one query.
  std::map<std::pair<std::string, std::string>, std::string> group_state(int64_t group);
  /// group_state() for the `keys` only (type, state_key).
  std::map<std::pair<std::string, std::string>, std::string>
  group_state(int64_t group, const std::vector<std::pair<std::string, std::string>>& keys);
  /// Where the room's known history begins (Synapse's backward
  /// extremities): the prev events of its oldest timeline events that are
  /// not in its timeline, rejected ones left out; at most `limit`.
  std::vector<std::string> backward_extremities(const std::string& room_id, size_t limit);
  /// `n` fresh negative positions for backfilled events, increasing (the
  /// first is the lowest), each batch below every earlier one.
  std::vector<int64_t> allocate_backfill_positions(size_t n);
  /// A redaction recorded before its target was known (pending_redactions).
  struct pending_redaction {
    std::string redacts;      ///< the target
    nlohmann::json redaction; ///< the redaction event
    bool by_power = false;
    int64_t position = 0;     ///< the redaction's (negative: backfilled)
  };
  /// The pending redactions of the events `ids`.
  std::vector<pending_redaction> pending_redactions(const std::vector<std::string>& ids);
  /// The room's state after `event_id` as ids: from its state group, or for
  /// events stored before groups existed, from the stream (rooms were
  /// linear then). nullopt when the event is unknown or has no state.
  std::optional<std::map<std::pair<std::string, std::string>, std::string>>
  state_after(const std::string& event_id);
  /// The room's state before `event` (full JSON with event_id): the state
  /// after it, its own key (a state event) as its first prev event had it.
  std::optional<std::map<std::pair<std::string, std::string>, std::string>>
  state_before(const nlohmann::json& event);
  /// The room's timeline events closest to `ts` (origin_server_ts): with
  /// `forward` the first at or after it, else the last at or before it;
  /// up to `limit`, nearest first.
  std::vector<stored_event> events_near_time(const std::string& room_id, int64_t ts, bool forward, size_t limit);
  /// The events the auth_events of `ids` lead to, recursively (the auth
  /// chain), `ids` themselves left out unless reached. Full JSON.
  std::vector<nlohmann::json> auth_chain(const std::vector<std::string>& ids);
  /// Events of the room's timeline with from < timeline_ordering <= to
  /// (their stream position, or for join state met in backfilled history
  /// their place there; stored_event.stream_ordering is that), `limit` at most:
  /// the newest of them in descending order when `newest_first`, else the
  /// oldest in ascending order.
  std::vector<stored_event> room_events(const std::string& room_id, int64_t from, int64_t to,
                                        size_t limit, bool newest_first);
  /// room_events() as a statement for a batch, and its rows.
  static statement room_events_query(const std::string& room_id, int64_t from, int64_t to,
                                     size_t limit, bool newest_first);
  static std::vector<stored_event> room_events_rows(const result& r);
  /// The room's state as of stream position `pos` (after the event at pos).
  std::vector<nlohmann::json> state_at(const std::string& room_id, int64_t pos);
  /// The newest state event per (type, state_key) among events in (from, to].
  std::vector<nlohmann::json> state_changes(const std::string& room_id, int64_t from, int64_t to);
  /// The m.room.member events of `user_ids` in the room's state as of `pos`
  /// (those who have one), oldest first.
  std::vector<nlohmann::json> members_at(const std::string& room_id,
                                         const std::vector<std::string>& user_ids, int64_t pos);
  /// The room's history visibility changes and `user_id`'s membership
  /// changes at or before `upto`, oldest first (matrix/visibility.hpp).
  std::vector<visibility_row> visibility_history(const std::string& room_id,
                                                 const std::string& user_id, int64_t upto);
  /// Rooms with at least one event in (from, to].
  std::vector<std::string> rooms_with_events(int64_t from, int64_t to);
  /// rooms_with_events() as a statement for a batch, and whether any of
  /// those events is an m.room.member event.
  struct room_activity {
    std::vector<std::string> rooms;
    bool memberships = false;
  };
  static statement room_activity_query(int64_t from, int64_t to);
  static room_activity room_activity_rows(const result& r);
  /// Newest stream position written by anyone (0 when empty).
  int64_t max_stream_ordering();
  /// The event id sent earlier with this transaction id, if any.
  std::optional<std::string> find_txn(const std::string& user_id, const std::string& device_id,
                                      const std::string& room_id, const std::string& txn_id);

  /// Transaction ids used in the room since `since_ts`: ("user\ndevice\ntxn",
  /// event id) pairs, for the writer's in-memory idempotency check.
  std::vector<std::pair<std::string, std::string>> recent_txns(const std::string& room_id,
                                                               int64_t since_ts);
  /// Loads a room for its writer; nullopt when the room does not exist.
  std::optional<room_snapshot> load_room(const std::string& room_id);
  // ---- several events writers (PostgreSQL; SQLite for one process's
  // simulation of several instances) ----
  /// Readies the shared sequence positions come from: created when missing
  /// and moved past every stored event, under an advisory lock so that
  /// writers starting together never move it back. Returns the highest
  /// position handed out so far.
  int64_t prepare_position_sequence();
  /// `n` fresh positions from the shared sequence, increasing.
  std::vector<int64_t> allocate_positions(size_t n);
  /// What each events writer has recorded as persisted (stream_positions).
  std::map<std::string, int64_t> writer_positions();
  /// Records that `instance` has persisted, or will never persist, anything
  /// up to `pos` (a writer's claim; see actors/events/README).
  void record_position(const std::string& instance, int64_t pos);
  /// Each name's number in instance_ids, in the order given; names without
  /// one get the next free number (instances starting together may race:
  /// the loser reads the winner's row).
  std::vector<int64_t> instance_ids(const std::vector<std::string>& names);
  /// PostgreSQL: which of `instances` are running, i.e. have a connection
  /// open to this database (application_name "axon/<instance>", see
  /// database_options). A
  /// backend stays listed until it exits, after its transaction committed or
  /// rolled back; so an instance not listed has nothing in flight.
  std::set<std::string> running_instances(const std::vector<std::string>& instances);

  /// Writes a batch of events in one transaction, and records that
  /// `instance` has persisted the events stream up to `pos`.
  void persist(const std::vector<event_to_persist>& events, const std::string& instance,
               int64_t pos);

private:
  pool& pool_;
};

} // namespace axon::storage
