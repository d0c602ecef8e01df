// actors/client/common.hpp -- helpers shared by the client API handlers:
// reading typed fields, formatting events for clients, membership checks and
// sending events through the transport.
#pragma once

#include "actors/http/http_types.hpp"
#include "matrix/stream_token.hpp"
#include "messages/device_lists.hpp"
#include "messages/events.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace axon::client {

using nlohmann::json;
using http::request;
using http::response;

/// The instance clock (server_context::env), milliseconds since the epoch.
int64_t now_ms(const request& req);
const std::string& server_name(const request& req);

/// Typed field access on a JSON object: M_MISSING_PARAM when absent (for the
/// required form), M_BAD_JSON when of the wrong type.
std::string require_string(const json& obj, const char* key);
std::optional<std::string> optional_string(const json& obj, const char* key);
std::optional<bool> optional_bool(const json& obj, const char* key);
std::optional<json> optional_object(const json& obj, const char* key);

/// Parses a non-negative integer query parameter; M_INVALID_PARAM when bad.
std::optional<int64_t> int_param(const request& req, const char* name);

/// The spec's ClientEvent form of a stored event, as seen by `viewer`
/// (transaction_id only for the sending device).
json client_event(const json& stored, const http::auth_user* viewer, int64_t now);
/// Same, without room_id (the "sync" format).
json sync_event(const json& stored, const http::auth_user* viewer, int64_t now);

/// Positions (token order, messages/streams.hpp) a client's token stands
/// for; an events writer it names that is not one of ours counts at the
/// token's lowest position.
std::vector<int64_t> token_positions(const request& req, const matrix::stream_token& t);
/// The token for positions `p`.
std::string token_string(const request& req, const std::vector<int64_t>& p);
/// How far positions `p` cover the events of room `room_id`: its events
/// writer's entry (a room has one writer, so one order).
int64_t room_position(const request& req, const std::vector<int64_t>& p, const std::string& room_id);
/// The entry of a positions vector that covers room `room_id`'s events: its
/// events writer's (writer_slot), or 0 with one writer.
size_t room_entry(const request& req, const std::string& room_id);

/// ASCII lower case (user ids compare case-insensitively, as in Synapse).
std::string lower(std::string s);

/// The user's current membership in the room, or "" when none.
std::string membership_of(request& req, const std::string& user_id, const std::string& room_id);
/// M_FORBIDDEN unless the requesting user is joined to the room.
void require_joined(request& req, const std::string& room_id);
/// M_NOT_FOUND / M_INVALID_PARAM for a malformed or unknown room id.
void require_room_id(const std::string& room_id);
/// Whether the requesting user (if any) has the server admin flag.
bool is_server_admin(request& req);
/// 403 M_FORBIDDEN "You are not a server admin" unless is_server_admin.
void require_server_admin(request& req);

/// Sends one event through the room's writer. Applies rc_message for
/// non-state events. Returns the event id.
std::string send_event(request& req, const std::string& room_id, msg::event_draft draft);
msg::send_events_reply send_events(request& req, msg::send_events batch);
/// ?ts= (an integer) and ?dir= (f: true, b: false) of /timestamp_to_event
/// (client and federation): M_MISSING_PARAM / M_INVALID_PARAM otherwise.
std::pair<int64_t, bool> time_and_direction(const request& req);
/// The user's devices changed (device_lists writer), and the servers
/// sharing a room with the user hear of it (m.device_list_update).
int64_t devices_changed(request& req, const msg::device_list_changed& change);

/// The m.room.member content for `user_id` joining/being invited, with the
/// profile's displayname and avatar_url.
json member_content(request& req, const std::string& user_id, const std::string& membership);

/// Event size limit (spec: 65536 bytes for the whole PDU); M_TOO_LARGE.
void check_event_size(const std::string& content_json, const std::string& type,
                      const std::string& state_key);

/// User-interactive auth with the requester's password (m.login.password).
/// nullopt when the request carries valid auth; else the 401 response to send
/// (the challenge, or the challenge with the stage's error).
std::optional<response> password_uia(request& req);

/// Deletes the requester's devices (their tokens, E2EE keys and the pushers
/// their tokens registered) and announces the change on the device_lists
/// stream. Unknown ids are skipped.
void delete_devices(request& req, const std::vector<std::string>& device_ids);

/// The users `user_id` ignores: the keys of `ignored_users` in its
/// m.ignored_user_list account data (spec "Ignoring Users").
std::unordered_set<std::string> ignored_users(request& req, const std::string& user_id);
/// The same, from the m.ignored_user_list content (nullopt: none).
std::unordered_set<std::string> ignored_users_in(const std::optional<std::string>& content);

/// Rate limiting per rc_* (M_LIMIT_EXCEEDED with retry_after_ms).
void rate_limit(request& req, const char* action, const std::string& key, double per_second,
                double burst);

} // namespace axon::client
