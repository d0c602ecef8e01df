// messages/events.hpp -- messages of the events stream: asking a room's
// events writer to create and persist events, and the stream rows it
// publishes when the events stream advances.
//
// Each struct: a stable wire name, a CAF inspect (fields in order) and a JSON
// codec with the same fields. Never rename a wire name.
#pragma once

#include <caf/meta/type_name.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace axon::msg {

/// One event a client asked for; the writer fills in prev_events, auth
/// events, depth, hashes, signature and event id.
struct event_draft {
  std::string type;
  bool is_state = false;
  std::string state_key;
  std::string sender;
  std::string content;     ///< JSON object text
  std::string redacts;     ///< m.room.redaction target, else empty
  std::string txn_device;  ///< with txn_id: idempotency key (device id)
  std::string txn_id;
  static constexpr const char* wire_name = "event_draft";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_draft& x) {
  return f(caf::meta::type_name("event_draft"), x.type, x.is_state, x.state_key, x.sender,
           x.content, x.redacts, x.txn_device, x.txn_id);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(event_draft, type, is_state, state_key, sender, content,
                                   redacts, txn_device, txn_id)

/// Request to the events writer owning `room_id`: build, authorise, sign and
/// persist `drafts` in order, atomically (all or none). With `new_room` the
/// room must not exist and the first draft must be its m.room.create.
///
/// Events other servers built (federation) come as `pdus` instead, each a
/// full PDU (JSON text with `event_id`) that passed the spec's first checks
/// (format, signatures, hashes: actors/federation/pdu_intake); the writer
/// runs the rest (auth against its auth events, against the state before
/// it, soft failure against the current state) and places each one. They
/// may reference `outliers` (auth chains they need, stored first) and, to
/// join a room this server does not have yet (new_room), `join_state`: the
/// room's state before pdus[0] as the resident server gave it.
struct send_events {
  std::string room_id;
  std::string room_version; ///< only with new_room
  bool new_room = false;
  std::vector<event_draft> drafts;
  std::vector<std::string> pdus;
  std::vector<std::string> outliers;
  std::vector<std::string> join_state;
  std::string origin; ///< the server the pdus came from
  /// The pdus go on to the room's other servers (a resident server's
  /// send_join, send_leave and send_knock: it vouches for them).
  bool relay = false;
  /// The pdus are history from `origin` (/backfill) for clients paging
  /// back: placed at negative positions, never current state.
  bool backfill = false;
  /// With backfill: the state after prev events this server lacks, as
  /// JSON texts {"event_id": id, "state": [[type, state_key, event id]...]}
  /// (their events among `outliers`).
  std::vector<std::string> prev_states;
  static constexpr const char* wire_name = "send_events";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_events& x) {
  return f(caf::meta::type_name("send_events"), x.room_id, x.room_version, x.new_room, x.drafts,
           x.pdus, x.outliers, x.join_state, x.origin, x.relay, x.backfill, x.prev_states);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(send_events, room_id, room_version, new_room, drafts, pdus,
                                   outliers, join_state, origin, relay, backfill, prev_states)

struct send_events_reply {
  /// One per draft. A state draft with the sender and content of the room's
  /// current event for its (type, state_key) creates nothing and gets that
  /// event's id (Synapse's deduplicate_state_event); so does a repeated
  /// transaction id.
  std::vector<std::string> event_ids;
  int64_t stream_pos = 0; ///< events stream position of the last event
  /// One per pdu: "" when it was accepted (into the timeline, or already
  /// known), else why not ("rejected: ...", "soft-failed: ...", "missing
  /// prev events", ...).
  std::vector<std::string> pdu_errors;
  static constexpr const char* wire_name = "send_events_reply";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_events_reply& x) {
  return f(caf::meta::type_name("send_events_reply"), x.event_ids, x.stream_pos, x.pdu_errors);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(send_events_reply, event_ids, stream_pos, pdu_errors)

/// To an events writer (several writers): how far it has persisted, as a
/// claim (between batches nothing is in flight). An instance starting asks
/// every writer, since claims reach the database only lazily. Replies with
/// the position.
struct get_events_position {
  std::string instance; ///< the writer asked, for checking
  static constexpr const char* wire_name = "get_events_position";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_events_position& x) {
  return f(caf::meta::type_name("get_events_position"), x.instance);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(get_events_position, instance)

/// To the events-writer liveness checker (several writers): which of
/// `writers` are running, i.e. have a connection to the database, and the
/// position each recorded in stream_positions. The notifier asks when a
/// writer holds the events position back (actors/notifier/notifier.cpp).
struct check_events_writers {
  std::vector<std::string> writers;
  static constexpr const char* wire_name = "check_events_writers";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, check_events_writers& x) {
  return f(caf::meta::type_name("check_events_writers"), x.writers);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(check_events_writers, writers)

/// The answer to check_events_writers: `running` lists those of the asked
/// writers that are running; `recorded` is parallel to the request's
/// `writers` (0: nothing recorded).
struct events_writers_status {
  std::vector<std::string> running;
  std::vector<int64_t> recorded;
  static constexpr const char* wire_name = "events_writers_status";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, events_writers_status& x) {
  return f(caf::meta::type_name("events_writers_status"), x.running, x.recorded);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(events_writers_status, running, recorded)

/// One persisted event, as the events stream carries it (Synapse's `ev` row:
/// event_id, room_id, type, state_key, redacts, membership).
struct events_row {
  int64_t pos = 0;
  std::string event_id;
  std::string room_id;
  std::string type;
  bool is_state = false;
  std::string state_key;
  std::string membership; ///< for m.room.member
  static constexpr const char* wire_name = "events_row";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, events_row& x) {
  return f(caf::meta::type_name("events_row"), x.pos, x.event_id, x.room_id, x.type, x.is_state,
           x.state_key, x.membership);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(events_row, pos, event_id, room_id, type, is_state, state_key,
                                   membership)

/// Stream update: writer `instance` persisted everything up to `pos`.
struct events_advanced {
  std::string instance;
  int64_t pos = 0;
  std::vector<events_row> rows;
  /// Some of these events were queued for other servers
  /// (federation_pdu_outbox): only then does a federation sender look.
  bool pdus_queued = false;
  static constexpr const char* wire_name = "events_advanced";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, events_advanced& x) {
  return f(caf::meta::type_name("events_advanced"), x.instance, x.pos, x.rows, x.pdus_queued);
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(events_advanced, instance, pos, rows, pdus_queued)

} // namespace axon::msg
