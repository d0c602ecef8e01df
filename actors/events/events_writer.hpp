// actors/events/events_writer.hpp -- the events writer ("event persister"):
// owns the rooms its shard maps to, builds, authorises, hashes, signs and
// persists their events in batches, and publishes the events stream.
#pragma once

#include "matrix/environment.hpp"
#include "matrix/crypto.hpp"
#include "messages/caf_types.hpp"
#include "messages/streams.hpp"

#include <functional>
#include "storage/database.hpp"

namespace axon::actors {

struct events_writer_deps {
  storage::pool* pool = nullptr;
  std::string server_name;
  matrix::signing_key key;
  std::string instance_name;  ///< this writer's instance (rows name it)
  caf::actor publisher;       ///< receives msg::events_advanced (transport's stream bus)
  /// The bus's shortcut (transport::stream_bus_handle::publish_here): hands
  /// an update to the bus's subscribers on the writer's thread; when unset
  /// or false, the update goes to `publisher` as a message.
  std::function<bool(const msg::events_advanced&)> publish_here;
  /// This instance's notifier, told before the publisher and directly:
  /// `notify_here` applies the update on the writer's thread when that is
  /// safe (actors/notifier: it answers no response promise), otherwise it
  /// goes to `notifier` as a message. The senders are answered once the
  /// position is there and before thousands of long-polls are woken, so
  /// their read-your-writes check finds it without a round trip. Null: the
  /// publisher tells it (then the bus must not skip it).
  caf::actor notifier;
  /// (notifier_shortcut::own_events: `visible` runs once the position is
  /// there, before long-polls are woken; not run when it returns false.)
  std::function<bool(const msg::events_advanced&, const std::function<void()>& visible)> notify_here;
  int64_t start_pos = 0;      ///< events stream position already persisted
  /// Several events writers (DESIGN.md "Streams and positions"): every
  /// writer's instance name, this one's included. With one, positions are
  /// this writer's own counter and the rest below is unused.
  std::vector<std::string> writers;
  /// Several writers: `n` fresh, increasing positions from what all writers
  /// share (PostgreSQL's sequence; in one process, a shared counter), and
  /// the highest position handed out so far.
  std::function<std::vector<int64_t>(size_t)> allocate;
  std::function<int64_t()> allocated_so_far;
  /// The push_rules position rule changes acknowledged anywhere are at (a
  /// change drops the writer's cached rulesets); empty: rulesets are read
  /// for every event.
  std::function<int64_t()> push_rules_position;
  /// The clock (origin_server_ts, transaction id expiry).
  matrix::environment* env = &matrix::system_environment();
};

/// Spawns the writer on its own thread (it blocks on the database). With
/// several writers, subscribe it to the stream bus (every events update):
/// it claims the positions other writers reach while it has nothing in
/// flight, so readers' position (the lowest writer's) keeps moving.
events_writer_actor spawn_events_writer(caf::actor_system& sys, events_writer_deps deps);

} // namespace axon::actors
