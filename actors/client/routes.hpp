// actors/client/routes.hpp -- the endpoint table: every client-server API
// endpoint Axon serves, with its listener resource. One table: the HTTP
// listener serves from it and (workers issue) reverse-proxy routes are
// generated from it.
#pragma once

#include "actors/http/http_types.hpp"

#include <vector>

namespace axon::client {

std::vector<http::route> all_routes();

// Each area adds its endpoints.
void add_account_routes(std::vector<http::route>& out);
void add_room_routes(std::vector<http::route>& out);
void add_timeline_routes(std::vector<http::route>& out);
void add_sync_routes(std::vector<http::route>& out);
void add_legacy_sync_routes(std::vector<http::route>& out);
void add_account_data_routes(std::vector<http::route>& out);
void add_push_rules_routes(std::vector<http::route>& out);
void add_presence_routes(std::vector<http::route>& out);
void add_ephemeral_routes(std::vector<http::route>& out);
void add_to_device_routes(std::vector<http::route>& out);
void add_directory_routes(std::vector<http::route>& out);
/// GET /_matrix/client/v1/rooms/{roomId}/hierarchy (spaces).
void add_hierarchy_routes(std::vector<http::route>& out);
void add_user_directory_routes(std::vector<http::route>& out);
void add_pusher_routes(std::vector<http::route>& out);
void add_account_security_routes(std::vector<http::route>& out);
void add_device_routes(std::vector<http::route>& out);
void add_keys_routes(std::vector<http::route>& out);
void add_cross_signing_routes(std::vector<http::route>& out);
void add_notification_routes(std::vector<http::route>& out);
void add_room_keys_routes(std::vector<http::route>& out);
/// /.well-known/matrix/server and /client.
void add_well_known_routes(std::vector<http::route>& out);

} // namespace axon::client
