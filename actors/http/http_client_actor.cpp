// actors/http/http_client_actor.cpp
#include "actors/http/http_client_actor.hpp"

#include "actors/http/http_client.hpp"

#include <unordered_map>

namespace axon::http {

namespace {

// ---- state -------------------------------------------------------------------------------

struct http_client_state {
  std::shared_ptr<http_client> client;
  uint64_t next_id = 0;
  /// Requests on the event loop, by id.
  std::unordered_map<uint64_t, caf::typed_response_promise<msg::outbound_response>> waiting;
  static inline const char* name = "http_client";
};

// ---- behavior ----------------------------------------------------------------------------

http_client_actor::behavior_type http_client_impl(http_client_actor::stateful_pointer<http_client_state> self,
                                                  std::shared_ptr<http_client> client) {
  self->state.client = std::move(client);
  return {
    [=](msg::outbound_request& req) -> caf::typed_response_promise<msg::outbound_response> {
      auto rp = self->make_response_promise<msg::outbound_response>();
      auto id = ++self->state.next_id;
      self->state.waiting.emplace(id, rp);
      // The answer comes on the client's event loop thread. CAF 0.17's
      // deliver() enqueues through the promise owner's execution unit, which
      // belongs to the thread running the actor: from another thread it
      // comes back as a message and is delivered here.
      self->state.client->request(std::move(req),
                                  [me = caf::actor_cast<http_client_actor>(self), id](outbound_response r) {
                                    caf::anon_send(me, http_answer_atom::value, id, std::move(r));
                                  });
      return rp;
    },
    [=](http_answer_atom, uint64_t id, msg::outbound_response& r) {
      auto i = self->state.waiting.find(id);
      if (i == self->state.waiting.end()) return;
      i->second.deliver(std::move(r));
      self->state.waiting.erase(i);
    },
  };
}

} // namespace

// ---- spawn -------------------------------------------------------------------------------

http_client_actor spawn_http_client_actor(caf::actor_system& sys, std::shared_ptr<http_client> client) {
  return sys.spawn(http_client_impl, std::move(client));
}

} // namespace axon::http
