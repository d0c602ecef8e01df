// actors/notifier/notifier.hpp -- one per instance: follows every stream and
// wakes waiting /sync requests the moment something concerns them.
#pragma once

#include "messages/caf_types.hpp"

#include <memory>

namespace axon::actors {

/// `start`: each stream's position already persisted when the instance
/// starts (token order). `positions`: where the notifier publishes the
/// positions it has seen, for request threads to read without a round trip
/// (they only grow; the notifier is their only writer).
notifier_actor spawn_notifier(caf::actor_system& sys, std::vector<int64_t> start,
                              std::shared_ptr<stream_positions> positions);

} // namespace axon::actors
