// actors/federation/room_edus.hpp -- typing notices and read receipts
// between servers (server-server API "Typing Notifications", "Receipts"):
// out to every other server with a user joined to the room, in from a
// server speaking for its own users joined to a room this server is in
// (and its ACL allows). Blocking, for request threads.
#pragma once

#include "actors/http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace axon::federation {

/// Queues `edu_type` with `content` for every other server with a user
/// joined to `room_id` (best effort: the federation sender keeps room EDUs
/// in memory). Nothing when there is none, or no federation here.
void send_room_edu(http::server_context& ctx, const std::string& room_id, const std::string& edu_type,
                   const nlohmann::json& content);

/// An m.typing EDU from `origin`.
void receive_typing(http::request& req, const std::string& origin, const nlohmann::json& content);
/// An m.presence EDU from `origin`: its users' presence, for those sharing
/// a room with a user of this server.
void receive_presence(http::request& req, const std::string& origin, const nlohmann::json& content);
/// An m.receipt EDU from `origin`.
void receive_receipts(http::request& req, const std::string& origin, const nlohmann::json& content);

} // namespace axon::federation
