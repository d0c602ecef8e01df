// actors/federation/pdu_intake.hpp -- events between servers: what a PDU
// looks like on the wire, the first checks on one received (server-server
// API "Checks performed on receipt of a PDU", steps 1-3: matrix/pdu_checks
// with the keyring's keys), and handing received PDUs to their room's events
// writer with what they need fetched first (their auth chain, missing prev
// events through /get_missing_events). Blocking, for request threads.
#pragma once

#include "actors/http/http_types.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/events_store.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace axon::federation {

/// A stored event as it goes to another server: without `event_id` from
/// room v3 on (the id is the hash) and without this server's unsigned
/// data, with `unsigned.age` (ms since origin_server_ts, at `now_ms`).
nlohmann::json wire_pdu(nlohmann::json ev, const matrix::room_version& v, int64_t now_ms);

/// Steps 1-3 on `pdu` for a room of version `v`: the event to go on with,
/// carrying its `event_id` and no `unsigned` (the redacted copy when its
/// content hash did not match), or nullopt with why in `why`. `room_id`
/// non-empty: the event must belong to that room.
std::optional<nlohmann::json> check_received_pdu(http::server_context& ctx, const nlohmann::json& pdu,
                                                 const matrix::room_version& v, const std::string& room_id,
                                                 std::string* why);

/// Received PDUs of one room this server has (checked: check_received_pdu),
/// to the room's events writer. What they reference and this server lacks
/// is fetched from `origin` first: prev events (/get_missing_events, as
/// Synapse: 10 at most, back to the room's forward extremities) and auth
/// events (/event_auth). Returns the result per event id: "" accepted (or
/// known), else why not.
std::map<std::string, std::string> take_pdus(http::request& req, const std::string& origin,
                                             const std::string& room_id, const matrix::room_version& v,
                                             std::vector<nlohmann::json> pdus);

/// The auth chains (/event_auth from `origin`, checked) of those `pdus`
/// whose auth events are neither in `have_ids` nor `known`: a few per call
/// (the rest stay refused for missing auth events). JSON texts.
std::vector<std::string> fetch_auth_chains(http::server_context& ctx, const std::string& origin,
                                           const std::string& room_id, const matrix::room_version& v,
                                           const std::vector<nlohmann::json>& pdus,
                                           const std::set<std::string>& have_ids,
                                           const std::map<std::string, storage::events_store::dag_event>& known);

/// The state after event `event_id` as `origin` has it: its /state_ids
/// (the state before it) with the event's own key, the entries this server
/// lacks fetched and checked (steps 1-3) into `fetched` (one by one when
/// few, else with /state), the event itself too. nullopt when the answer
/// is incomplete or malformed.
std::optional<std::map<std::pair<std::string, std::string>, std::string>>
remote_state_after(http::server_context& ctx, const std::string& origin, const std::string& room_id,
                   const matrix::room_version& v, const std::string& event_id, std::vector<nlohmann::json>* fetched);

/// A send_events.prev_states entry.
std::string state_entry(const std::string& event_id,
                        const std::map<std::pair<std::string, std::string>, std::string>& state);

/// The room's current state, full events by (type, state_key).
std::map<std::pair<std::string, std::string>, nlohmann::json> current_auth_state(http::server_context& ctx,
                                                                                 const std::string& room_id);

/// A new event of a room this server is in, on top of its current state:
/// `base` (type, sender, state_key, content, origin) completed with
/// room_id, origin_server_ts, depth, prev_events (the forward extremities)
/// and auth_events (the auth rules' selection), not hashed or signed. The
/// room's current state comes back with it (for the caller's auth check).
std::pair<nlohmann::json, std::map<std::pair<std::string, std::string>, nlohmann::json>>
event_template(http::server_context& ctx, const std::string& room_id, const matrix::room_version& v,
               nlohmann::json base);

/// What another server says of a room in an invite's or knock's stripped
/// state, kept: well-formed entries only (type, state_key, content,
/// sender), at most 50.
nlohmann::json checked_stripped_state(const nlohmann::json& given);

/// The stripped state an invite or knock shows of the room (create, join
/// rules, name, avatar, canonical alias, encryption, topic), and `sender`'s
/// member event when not empty.
nlohmann::json stripped_state(const std::map<std::pair<std::string, std::string>, nlohmann::json>& state,
                              const std::string& sender);

/// Whether `server` has a user joined to the room (its current state).
bool server_in_room(http::server_context& ctx, const std::string& room_id, const std::string& server);

/// The ids an event's `key` ("prev_events", "auth_events") names.
std::vector<std::string> event_refs(const nlohmann::json& ev, const char* key);

/// The room's version when this server has the room, else nullptr.
const matrix::room_version* room_version_of(http::server_context& ctx, const std::string& room_id);

/// Whether the room's current m.room.server_acl (if any) lets `server` in.
bool acl_allows(http::server_context& ctx, const std::string& room_id, const std::string& server);

} // namespace axon::federation
