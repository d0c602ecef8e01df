// actors/http/listener_actor.cpp -- the listener actor of listener_actor.hpp.
//
// Detached (its own thread): stopping the server waits for the requests
// still running, which must never hold one of CAF's scheduler threads.
#include "actors/http/listener_actor.hpp"

#include <caf/all.hpp>

namespace axon::http {

namespace {

// ---- state -------------------------------------------------------------------------------

struct listener_state {
  std::shared_ptr<listener> server;
  static inline const char* name = "http_listener";
  ~listener_state() {
    if (server) server->stop();
  }
};

// ---- behavior ----------------------------------------------------------------------------

listener_actor::behavior_type listener_impl(listener_actor::stateful_pointer<listener_state> self,
                                            std::shared_ptr<listener> server) {
  self->state.server = std::move(server);
  return {
    [=](caf::get_atom) { return self->state.server->figures(); },
  };
}

} // namespace

// ---- spawn -------------------------------------------------------------------------------

listener_actor spawn_listener(caf::actor_system& sys, const config::listener_config& lc,
                              const std::vector<route>& routes, server_context* ctx,
                              const std::string& tls_cert, const std::string& tls_key) {
  std::shared_ptr<listener> server = start_listener(sys, lc, routes, ctx, tls_cert, tls_key);
  return sys.spawn<caf::detached>(listener_impl, std::move(server));
}

} // namespace axon::http
