// actors/http/listener_actor.hpp -- a listener as an actor (DESIGN.md, "HTTP
// in and out"): the actor owns one event-driven server (listener.cpp) and
// its handler actors (request_pool.hpp); asked, it tells its overload
// figures; when it ends, its server stops (requests running finish, the
// connections close). Included by boot only.
#pragma once

#include "actors/http/http_server.hpp"

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace axon::http {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, listener_figures& x) {
  return f(caf::meta::type_name("listener_figures"), x.open, x.refused, x.in_flight, x.queued, x.port);
}

using listener_actor = caf::typed_actor<caf::replies_to<caf::get_atom>::with<listener_figures>>;

/// Starts serving `lc` (start_listener) and spawns the actor that owns it;
/// throws std::runtime_error naming the address when it cannot bind.
listener_actor spawn_listener(caf::actor_system& sys, const config::listener_config& lc,
                              const std::vector<route>& routes, server_context* ctx,
                              const std::string& tls_cert, const std::string& tls_key);

} // namespace axon::http
