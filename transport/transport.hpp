// transport/transport.hpp -- how request threads reach the roles.
//
// Handlers call these and never learn where the receiving actor lives: the
// one-process transport (local_transport.cpp) sends a CAF message; the
// replication transport (workers issue) forwards it over HTTP to the owning
// instance. Every call blocks the calling request thread (never call from a
// CAF scheduler thread) and raises axon::matrix_error on failure.
#pragma once

#include "messages/account_data.hpp"
#include "messages/events.hpp"
#include "messages/streams.hpp"

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

  /// Asks the account_data writer; returns the stream position of the change
  /// once this instance's readers can see it.
  virtual int64_t put_account_data(const msg::put_account_data& req) = 0;
  virtual int64_t update_room_tag(const msg::update_room_tag& req) = 0;

  /// Long-poll: returns every stream's position (token order) once a row
  /// past `req.since` concerns the waiter, or when the timeout passes.
  virtual std::vector<int64_t> wait_for_updates(const msg::wait_for_updates& req) = 0;

  /// The position of `s` readers on this instance may expose.
  virtual int64_t position(stream_id s) = 0;
  /// Every stream's position, token order.
  virtual std::vector<int64_t> positions() = 0;
  int64_t events_position() { return position(stream_id::events); }
};

} // namespace axon::transport
