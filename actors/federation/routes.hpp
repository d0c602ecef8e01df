// actors/federation/routes.hpp -- the server-server API's endpoints, added
// to the one endpoint table (actors/client/routes.hpp) with the
// `federation` and `keys` listener resources.
#pragma once

#include "actors/http/http_types.hpp"

#include <vector>

namespace axon::federation {

/// /_matrix/key/v2/server and /_matrix/federation/v1/version.
void add_key_routes(std::vector<http::route>& out);

} // namespace axon::federation
