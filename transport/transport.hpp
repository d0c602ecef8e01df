// transport/transport.hpp -- how request threads reach the roles.
//
// Handlers call these and never learn where the receiving actor lives: the
// one-process transport (local_transport.cpp) sends a CAF message; the
// replication transport (workers issue) forwards it over HTTP to the owning
// instance. Every call blocks the calling request thread (never call from a
// CAF scheduler thread) and raises axon::matrix_error on failure.
#pragma once

#include "messages/events.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace axon::transport {

class transport {
public:
  virtual ~transport() = default;

  /// Asks the events writer owning `req.room_id` to create and persist events.
  virtual msg::send_events_reply send_events(const msg::send_events& req) = 0;

  /// Long-poll: returns the events position once something concerns the
  /// waiter past `since_pos`, or when the timeout passes.
  virtual int64_t wait_for_events(const msg::wait_for_events& req) = 0;

  /// The events position readers on this instance may expose.
  virtual int64_t events_position() = 0;
};

} // namespace axon::transport
