// actors/http/http_client_actor.hpp -- the instance's outbound HTTP client as
// an actor ("Outbound HTTP goes through one client actor per instance"):
// actors send it an outbound_request and get the outbound_response, never
// blocking a scheduler thread. Request threads may call the http_client
// itself (`call`), as HTTP replication does.
#pragma once

#include "messages/caf_types.hpp"

#include <memory>

namespace axon::http {

class http_client;

/// Answers each outbound_request through `client`'s event loop; `client`
/// stays alive as long as the actor.
http_client_actor spawn_http_client_actor(caf::actor_system& sys, std::shared_ptr<http_client> client);

} // namespace axon::http
