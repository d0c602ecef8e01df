// transport/replication_dispatch.hpp -- HTTP replication, the serving side's
// table: which transport call a forwarded request (by wire name) becomes.
// The HTTP glue (secret, transaction ids, positions) is
// actors/replication/replication_handler.cpp.
#pragma once

#include "transport/transport.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace axon::transport {

/// Serves a forwarded request with this instance's own roles (`local` must
/// never forward again) and returns the reply as JSON. Raises matrix_error:
/// M_UNRECOGNIZED for an unknown wire name, M_BAD_JSON for a request that
/// doesn't decode, and whatever the role answers.
nlohmann::json serve_replication(transport& local, const std::string& wire_name,
                                 const nlohmann::json& request);

/// The wire names serve_replication knows (for tests and the routes
/// generator's "never route these" check).
std::vector<std::string> replication_wire_names();

} // namespace axon::transport
