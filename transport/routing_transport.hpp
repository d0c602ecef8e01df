// transport/routing_transport.hpp -- the transport of an instance in a
// layout of several: each request goes to the instance that owns its role
// (`stream_writers`, events sharded by room id): this one's own roles
// through the local transport, another's over HTTP replication. Rows come
// back over Redis (redis_link); after a forwarded write it waits (bounded)
// until its own readers can see what the owner reported, then takes the
// owner at its word (read-your-writes without trusting Redis to be there).
#pragma once

#include "config/homeserver_config.hpp"
#include "transport/replication_client.hpp"
#include "messages/errors.hpp"
#include "transport/transport.hpp"

#include <functional>
#include <memory>
#include <string>

namespace axon::transport {

/// Publishes a cache invalidation to the other instances (redis_link).
using invalidator =
  std::function<void(const std::string& cache, const std::vector<std::string>& keys)>;

/// What the read barrier needs from the database, in one read:
/// Every positions entry up to which everything is stored, as the database
/// says now (token order; an events writer's entry: the position it
/// recorded, in the same transaction as its events).
using barrier_reader = std::function<std::vector<int64_t>()>;

std::unique_ptr<transport> make_routing_transport(const config::homeserver_config& cfg,
                                                  std::string instance,
                                                  std::unique_ptr<transport> local,
                                                  std::shared_ptr<remote_calls> client,
                                                  invalidator invalidate,
                                                  barrier_reader db_positions);

} // namespace axon::transport
