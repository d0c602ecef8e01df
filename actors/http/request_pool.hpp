// actors/http/request_pool.hpp -- a listener's handler actors: every parsed
// request, and every long-poll's resumption, is a message to one of them.
//
// Each handler is a detached CAF actor (its own thread, never one of CAF's
// scheduler threads), so a handler may block on the database and on
// transport calls. There are `http.request_threads` of them per listener:
// the bounded pool DESIGN.md asks for. A job goes to a handler that is idle;
// when none is, it waits in the pool's queue and the next handler to finish
// takes it, so no request waits behind a slow one while another handler
// is free. No CAF header here: listener.cpp (Beast) includes this.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace caf { class actor_system; }

namespace axon::http {

class request_pool {
public:
  /// Spawns `handlers` (at least 1) handler actors in `sys`.
  request_pool(caf::actor_system& sys, size_t handlers);
  ~request_pool();
  request_pool(const request_pool&) = delete;
  request_pool& operator=(const request_pool&) = delete;

  /// Runs `job` on a handler actor; callable from any thread, a handler's
  /// included. After stop() the job is dropped (destroyed unrun).
  void post(std::function<void()> job);

  /// Jobs posted and not started yet.
  size_t queued() const;

  /// Drops the jobs not started, lets the running ones finish and waits
  /// until every handler has ended. Not from a handler.
  void stop();

  struct shared; ///< between the pool and its handlers (request_pool.cpp)

private:
  std::shared_ptr<shared> shared_;
};

} // namespace axon::http
