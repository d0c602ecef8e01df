// transport/local_transport.hpp -- every role in this process.
#pragma once

#include "messages/caf_types.hpp"
#include "transport/transport.hpp"

#include <atomic>
#include <functional>
#include <memory>

namespace axon::transport {

struct local_roles {
  std::vector<std::string> events_writer_names;   ///< stream_writers.events, in order
  std::vector<events_writer_actor> events_writers; ///< same order
  account_data_writer_actor account_data_writer; ///< null when another instance writes it
  push_rules_writer_actor push_rules_writer; ///< null when another instance writes it
  presence_writer_actor presence_writer; ///< null when another instance writes it (or disabled)
  device_lists_writer_actor device_lists_writer; ///< null when another instance writes it
  to_device_writer_actor to_device_writer; ///< null when another instance writes it
  typing_writer_actor typing_writer;     ///< null when another instance writes it
  receipts_writer_actor receipts_writer; ///< null when another instance writes it
  federation_sender_actor federation_sender; ///< null when another instance sends federation
  /// Sends a federation request from this instance (the federation client);
  /// unset: federation requests are not served here.
  std::function<msg::federation_reply(const msg::federation_request&)> federation_requests;
  notifier_actor notifier;
  /// Waits without an actor or a thread (spawn_notifier fills them in);
  /// unset: asynchronous waits block (transport's default).
  notifier_waits waits;
  /// The notifier's stream positions (see spawn_notifier).
  std::shared_ptr<stream_positions> positions;
  /// Called before each blocking receive of a request thread, with the
  /// waiting actor. Unset in a server (request threads block); the placement
  /// simulation (tests/sim) runs CAF's deterministic scheduler here until
  /// the actor has mail, and raises matrix_error when nothing ever comes.
  std::function<void(caf::blocking_actor*)> before_receive;
};

/// A transport delivering to actors of this process. Writers that live in
/// another instance are not reachable yet: requests for them fail with
/// M_UNKNOWN 503 until the replication transport exists.
std::unique_ptr<transport> make_local_transport(caf::actor_system& sys, local_roles roles);

/// The stream bus: receives stream rows from writers and hands them to every
/// subscriber of this process (the notifier; later the Redis publisher).
/// A subscriber of the stream bus. `event_types`, when not empty, limits the
/// events-stream updates it is sent to those with a row of one of these
/// types (so an actor that only cares about memberships isn't woken for
/// every message); `streams` says whether it gets the other streams' rows.
struct bus_subscriber {
  caf::actor who;
  std::vector<std::string> event_types;
  bool streams = true;
  /// When set, only updates written by this instance (the Redis publisher:
  /// rows from elsewhere are not woken up for at all).
  std::string only_instance;
  /// When set, not the events updates of this instance (its events writers
  /// tell the notifier themselves, actors/events/events_writer.hpp).
  std::string skip_events_of;
  /// When set, only the events updates that queued PDUs for other servers
  /// (the federation sender).
  bool pdus_only = false;
};

struct stream_bus_handle {
  caf::actor actor; ///< takes msg::events_advanced, msg::stream_advanced and subscriptions
  /// The bus's shortcut for events updates: hands `adv` to the subscribers
  /// that want it on the caller's thread (an events writer's), under the
  /// lock the bus actor takes too, so every subscriber gets updates in one
  /// order. The bus actor is then not woken for an update that most of the
  /// time nobody wants (a message in a room nothing here follows). Always
  /// true (the signature of events_writer_deps::publish_here).
  std::function<bool(const msg::events_advanced&)> publish_here;
};

stream_bus_handle spawn_stream_bus(caf::actor_system& sys, std::vector<bus_subscriber> subscribers);

/// Whether the bus hands `adv` to subscriber `s` (its filters).
bool bus_wants(const bus_subscriber& s, const msg::events_advanced& adv);
bool bus_wants(const bus_subscriber& s, const msg::stream_advanced& adv);

/// Adds a subscriber to a running bus (for actors that publish to the bus
/// and so are spawned after it).
void subscribe_to_bus(const caf::actor& bus, bus_subscriber s);

} // namespace axon::transport
