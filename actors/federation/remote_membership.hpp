// actors/federation/remote_membership.hpp -- this server's users joining
// rooms it is not in (server-server API "Joining Rooms", as the joining
// server): make_join through one of the given servers, the event completed
// and signed here, send_join (v2, else v1), the answer's state and auth
// chain checked (steps 1-3 on each) and the room taken over by its events
// writer from the join on. Blocking, for request threads.
#pragma once

#include "actors/http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace axon::federation {

/// Joins local `user_id` to `room_id` with member `content` through the
/// first of `servers` that answers (others: the next). Throws the client's
/// error: 404 when no server is left to ask, the resident's own error
/// (M_FORBIDDEN, M_INCOMPATIBLE_ROOM_VERSION...) when it refused, 502 when
/// none answered sensibly.
void join_remote_room(http::request& req, const std::string& room_id, std::vector<std::string> servers,
                      const std::string& user_id, nlohmann::json content);

/// Invites `target`, a user of another server, to `room_id` (this server
/// is in it): the invite built here, signed by the invitee's server too
/// (PUT /invite v2, v1 for rooms v1/v2 when v2 is unknown), then placed in
/// the room and sent to its servers. The invitee's server's refusal is the
/// client's error (403 M_FORBIDDEN...), 502 when it doesn't answer.
void invite_remote_user(http::request& req, const std::string& room_id, const std::string& target,
                        nlohmann::json content);

/// `user_id` knocks on a room this server is not in (spec "Knocking on
/// rooms"): make_knock / send_knock through the first of `servers` that
/// answers; the knock is kept here out of band with the room's stripped
/// state the resident gave (knock_room_state, shown in /sync's knock
/// section). Errors as join_remote_room.
void knock_remote_room(http::request& req, const std::string& room_id, std::vector<std::string> servers,
                       const std::string& user_id, nlohmann::json content);

/// `user_id` leaves a room this server is not in (an invite rejected, a
/// knock withdrawn): make_leave / send_leave through the first of
/// `servers` that answers; when none does, the leave is made here alone
/// (out of band, as Synapse's _generate_local_out_of_band_leave), so the
/// user is out of the room whatever the other servers do.
void leave_remote_room(http::request& req, const std::string& room_id, std::vector<std::string> servers,
                       const std::string& user_id, nlohmann::json content);

} // namespace axon::federation
