// actors/replication/replication_handler.hpp -- the replication listener's
// one endpoint (see the .cpp).
#pragma once

#include "actors/http/http_types.hpp"

#include <memory>
#include <vector>

namespace axon::replication {

void add_replication_routes(std::vector<http::route>& out);

/// The transaction ids an instance's replication listener has answered
/// (server_context::replication_txns); they go with the instance.
class txn_memory;
std::shared_ptr<txn_memory> make_txn_memory();

} // namespace axon::replication
