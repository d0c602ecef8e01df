// actors/notifier/notifier.hpp -- one per instance: follows the events stream
// and wakes waiting /sync requests the moment something concerns them.
#pragma once

#include "messages/caf_types.hpp"

namespace axon::actors {

/// `start_pos`: the events position already persisted when the instance starts.
notifier_actor spawn_notifier(caf::actor_system& sys, int64_t start_pos);

} // namespace axon::actors
