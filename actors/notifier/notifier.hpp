// actors/notifier/notifier.hpp -- one per instance: follows every stream and
// wakes waiting /sync requests the moment something concerns them.
#pragma once

#include "messages/caf_types.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace axon::actors {

/// `start`: each stream's position already persisted when the instance
/// starts (token order). `positions`: where the notifier publishes the
/// positions it has seen, for request threads to read without a round trip
/// (they only grow; the notifier is their only writer).
/// `events_writers` (several events writers): each writer's position at the
/// start, in `stream_writers.events` order: the positions get one entry per
/// writer after the streams' (messages/streams.hpp), and the events entry is
/// the lowest writer's (see the .cpp).
/// `liveness` (several events writers): asked when a writer holds the
/// position back; one that is not running is then left out (null: never).
/// `shortcut`, `waits`: filled in when given.
notifier_actor spawn_notifier(caf::actor_system& sys, std::vector<int64_t> start,
                              std::shared_ptr<stream_positions> positions,
                              std::vector<std::pair<std::string, int64_t>> events_writers = {},
                              writer_liveness_actor liveness = {},
                              notifier_shortcut* shortcut = nullptr,
                              notifier_waits* waits = nullptr);

} // namespace axon::actors
