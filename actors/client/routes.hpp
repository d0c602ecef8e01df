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
void add_account_data_routes(std::vector<http::route>& out);

} // namespace axon::client
