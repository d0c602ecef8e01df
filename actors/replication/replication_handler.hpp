// actors/replication/replication_handler.hpp -- the replication listener's
// one endpoint (see the .cpp).
#pragma once

#include "actors/http/http_types.hpp"

#include <vector>

namespace axon::replication {

void add_replication_routes(std::vector<http::route>& out);

} // namespace axon::replication
