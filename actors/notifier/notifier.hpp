// actors/notifier/notifier.hpp -- one per instance: follows the events stream
// and wakes waiting /sync requests the moment something concerns them.
#pragma once

#include "messages/caf_types.hpp"

#include <atomic>
#include <memory>

namespace axon::actors {

/// `start_pos`: the events position already persisted when the instance
/// starts. `position`: where the notifier publishes the events position it
/// has seen, for request threads to read without a round trip (it only ever
/// grows; the notifier is its only writer).
notifier_actor spawn_notifier(caf::actor_system& sys, int64_t start_pos,
                              std::shared_ptr<std::atomic<int64_t>> position);

} // namespace axon::actors
