// transport/pubsub.hpp -- the pub/sub protocol between instances, apart from
// the wire that carries it (Redis in redis_link.cpp; a simulated network in
// tests/sim): what a publisher sends and how a subscriber turns what arrives
// into rows for its readers, catching up from the database on a gap.
//
// Messages are JSON text: {"k": "events"|"stream", "i": instance, "prev":
// the position that instance last published on that stream, "m": the rows},
// {"k": "pos", "i", "pos": [...]} (a heartbeat of every stream's position)
// and {"k": "cache", "i", "name", "keys"} (a cache invalidation). The wire
// may drop messages (Redis does while a subscriber is disconnected) but must
// keep each publisher's order.
#pragma once

#include "messages/caf_types.hpp"
#include "transport/local_transport.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace axon::transport {

/// How often a publisher sends its positions: the longest a lost last
/// message goes unnoticed.
constexpr auto pubsub_heartbeat_every = std::chrono::seconds(5);

/// Sends one message on the wire (may drop it); called from the publisher
/// actor only.
using pubsub_send = std::function<void(const std::string& payload)>;

/// An actor to subscribe to the stream bus: publishes the rows of this
/// instance's writers (others' are ignored), and a heartbeat.
/// `detached`: its own thread (a blocking wire); false in simulations.
caf::actor spawn_pubsub_publisher(caf::actor_system& sys, std::string instance, pubsub_send send,
                                  bool detached = true);

/// Tells a publisher to send a cache invalidation to the other instances.
void publish_invalidation(const caf::actor& publisher, const std::string& cache,
                          const std::vector<std::string>& keys);

struct pubsub_receiver_deps {
  std::string instance;
  /// Who gets other instances' rows (filtered as the stream bus filters).
  std::vector<bus_subscriber> subscribers;
  notifier_actor notifier; ///< receives stream_caught_up
  /// Rows for the notifier go through it first (messages/caf_types.hpp).
  notifier_shortcut shortcut;
  /// Also receive stream_caught_up: the events writers here, which claim
  /// what other writers reached even when its rows were lost.
  std::vector<caf::actor> caught_up_too;
  /// Every positions entry's durable position from the database (token
  /// order), and the events writers the entries after the streams' are.
  std::function<std::vector<int64_t>()> db_positions;
  std::vector<std::string> events_writers;
  /// A cache invalidation (name, keys); ("*", {}) after a (re)connect.
  std::function<void(const std::string&, const std::vector<std::string>&)> invalidate;
};

/// One instance's end of the pub/sub wire: the publisher to subscribe to
/// the stream bus, and cache invalidations out. Whoever implements it feeds
/// a pubsub_receiver with what arrives (redis_link; the simulation's).
class pubsub_wire {
public:
  virtual ~pubsub_wire() = default;
  virtual caf::actor publisher() const = 0;
  virtual void invalidate(const std::string& cache, const std::vector<std::string>& keys) = 0;
};

/// The subscribing side; one thread (or one simulated node) at a time.
class pubsub_receiver {
public:
  explicit pubsub_receiver(pubsub_receiver_deps deps) : deps_(std::move(deps)) {}
  virtual ~pubsub_receiver() = default;

  /// Subscribed (again): whatever was missed is in the database. Call after
  /// the subscription is in place, before the first message.
  void connected();
  /// One message from the wire.
  void message(const std::string& payload);

protected:
  /// Messages of `instance` on `stream` up to `prev` never came: catches up
  /// (their rows are in the database). Virtual only so that the simulation
  /// can show it catches a receiver that skips this (tests/sim).
  virtual void gap(const std::string& instance, size_t stream, int64_t prev) {
    caught_up(stream, prev, instance);
  }

private:
  void caught_up(size_t stream, int64_t pos, const std::string& instance = "");
  void check_gap(const std::string& instance, size_t stream, int64_t prev, int64_t pos);
  template <class Advanced>
  void deliver(const Advanced& adv);

  pubsub_receiver_deps deps_;
  /// (instance, stream) -> last position seen from it since connecting.
  std::map<std::pair<std::string, size_t>, int64_t> seen_;
  /// The durable positions read when connecting (empty: unknown), and where
  /// they put `instance`'s messages on `stream` (-1: unknown).
  std::vector<int64_t> at_connect_;
  int64_t at_connect(const std::string& instance, size_t stream) const;
};

} // namespace axon::transport
