// actors/federation/device_lists.hpp -- device list and cross-signing key
// changes between servers (server-server API "Device Management":
// m.device_list_update, m.signing_key_update). Out: to every other server
// with a user sharing a room with the local user whose devices changed,
// each update numbered with the device_lists position it was recorded at
// and naming the user's previous one (prev_id). In: a change of a server's
// own user is recorded in this server's device_lists stream, so local
// users sharing a room see the user in /sync's device_lists.changed and
// /keys/changes, and ask again. This server keeps no copy of another
// server's devices (/keys/query and /user/devices ask it each time), so a
// gap in prev_id needs no resync: the next query is the resync.
#pragma once

#include "actors/http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace axon::federation {

/// The local user's devices `device_ids` changed at device_lists position
/// `pos` (`deleted`: they are gone): m.device_list_update to the servers
/// sharing a room with the user. Best effort.
void send_device_list_update(http::server_context& ctx, const std::string& user_id,
                             const std::vector<std::string>& device_ids, bool deleted, int64_t pos);

/// The local user's cross-signing keys changed: m.signing_key_update.
void send_signing_key_update(http::server_context& ctx, const std::string& user_id);

/// An m.device_list_update or m.signing_key_update EDU from `origin`.
void receive_device_list_update(http::request& req, const std::string& origin, const nlohmann::json& content);

} // namespace axon::federation
