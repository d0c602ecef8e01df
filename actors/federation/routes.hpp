// actors/federation/routes.hpp -- the server-server API's endpoints, added
// to the one endpoint table (actors/client/routes.hpp) with the
// `federation` and `keys` listener resources.
#pragma once

#include "actors/http/http_types.hpp"

#include <vector>

namespace axon::federation {

/// /_matrix/key/v2/server, the notary's /_matrix/key/v2/query and
/// /_matrix/federation/v1/version.
void add_key_routes(std::vector<http::route>& out);

/// PUT /_matrix/federation/v1/send/{txnId}.
void add_transaction_routes(std::vector<http::route>& out);

/// /_matrix/federation/v1/user/*: keys/query, keys/claim, devices/{userId}.
void add_user_routes(std::vector<http::route>& out);

/// /_matrix/federation/v1/publicRooms (GET, POST) and /query/directory.
void add_directory_routes(std::vector<http::route>& out);

/// POST /user/{userId}/openid/request_token (client) and
/// /_matrix/federation/v1/openid/userinfo (the `openid` resource).
void add_openid_routes(std::vector<http::route>& out);

/// Synapse's federation admin API: /_synapse/admin/v1/federation/destinations...
void add_admin_routes(std::vector<http::route>& out);

/// /_matrix/federation/v1/query/*: profile.
void add_query_routes(std::vector<http::route>& out);

/// /_matrix/federation/v1/hierarchy/{roomId} (spaces).
void add_hierarchy_routes(std::vector<http::route>& out);

/// Joining rooms this server is in: make_join, send_join (v1, v2).
void add_membership_routes(std::vector<http::route>& out);
/// Reading rooms: /event, /state, /state_ids, /event_auth,
/// /get_missing_events, /backfill.
void add_event_routes(std::vector<http::route>& out);

/// Checks the request's X-Matrix signature (server-server API, "Request
/// Authentication") and sets `req.origin`: 401 M_UNAUTHORIZED when the
/// header is missing or malformed, names another destination, or its
/// signature does not verify with the origin's key (fetched when needed);
/// 403 M_FORBIDDEN when the origin is not in federation_domain_whitelist.
void authenticate_server(http::request& req);

} // namespace axon::federation
