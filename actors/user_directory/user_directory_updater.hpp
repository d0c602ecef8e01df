// actors/user_directory/user_directory_updater.hpp -- keeps the user directory
// current from the events stream (`update_user_directory_from_worker`).
#pragma once

#include "messages/caf_types.hpp"
#include "storage/database.hpp"

namespace axon::actors {

/// Spawns the updater on its own thread (it writes to the database). It
/// first catches up from its stored position, then follows the events
/// stream rows it receives (subscribe it to the stream bus).
caf::actor spawn_user_directory_updater(caf::actor_system& sys, storage::pool* pool);

} // namespace axon::actors
