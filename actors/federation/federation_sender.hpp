// actors/federation/federation_sender.hpp -- sends what is queued for other
// servers (`federation_sender_instances`): one queue per destination, read
// from the database (so a restart or an outage loses nothing), at most one
// transaction in flight to each, retried with backoff. Today the queues hold
// to-device messages (m.direct_to_device EDUs); PDUs and the other EDUs
// join them as rooms federate.
#pragma once

#include "matrix/environment.hpp"
#include "messages/caf_types.hpp"
#include "storage/database.hpp"

#include <string>

namespace axon::federation {

class federation_client;

struct federation_sender_deps {
  storage::pool* pool = nullptr;
  federation_client* client = nullptr; ///< outlives the actor
  std::string server_name;
  matrix::environment* env = &matrix::system_environment();
};

/// Spawns the sender on its own thread (it reads its queues from the
/// database); it scans every queue at once and then every minute.
federation_sender_actor spawn_federation_sender(caf::actor_system& sys, federation_sender_deps deps);

} // namespace axon::federation
