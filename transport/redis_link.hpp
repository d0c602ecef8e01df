// transport/redis_link.hpp -- Redis pub/sub between the instances of one
// server (DESIGN.md "Streams and positions"; Synapse's `redis` settings).
//
// One channel per server_name. Each instance publishes the stream rows of
// the writers it hosts (and cache invalidations) and subscribes to everyone
// else's, handing them to its stream bus. Redis is only the fast path: rows
// are in the database before they are published, so an instance that lost
// messages (a gap in an instance's published positions, a reconnect) takes
// the positions from the database (stream_caught_up) and its waiters look
// there. A heartbeat with each publisher's positions every few seconds
// bounds how long a lost last message can go unnoticed. The protocol itself
// (messages, gaps, catch-up) is transport/pubsub.hpp; this file is its wire.
#pragma once

#include "config/homeserver_config.hpp"
#include "messages/caf_types.hpp"
#include "transport/local_transport.hpp"
#include "transport/pubsub.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace axon::transport {

struct redis_link_deps {
  config::redis_config redis;
  std::string server_name;
  /// What arrives goes there (the subscribers get it straight from the
  /// Redis thread: one hop less than through the bus).
  pubsub_receiver_deps receiver;
};

class redis_link final : public pubsub_wire {
public:
  /// Connects the publisher (an actor to subscribe to the bus) and starts
  /// the subscriber thread; both reconnect by themselves.
  redis_link(caf::actor_system& sys, redis_link_deps deps);
  ~redis_link() override; ///< stops the subscriber thread

  /// Subscribe this to the stream bus (every stream, every event type).
  caf::actor publisher() const override;
  /// Publishes a cache invalidation to the other instances.
  void invalidate(const std::string& cache, const std::vector<std::string>& keys) override;

  redis_link(const redis_link&) = delete;
  redis_link& operator=(const redis_link&) = delete;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace axon::transport
