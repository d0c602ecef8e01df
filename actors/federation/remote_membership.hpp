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

} // namespace axon::federation
