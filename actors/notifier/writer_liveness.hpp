// actors/notifier/writer_liveness.hpp -- with several events writers, tells
// the notifier which writers are running, so one that is down stops holding
// back the events position (see notifier.cpp, "A writer that is down").
#pragma once

#include "messages/caf_types.hpp"

namespace axon::storage {
class pool;
}

namespace axon::actors {

/// A detached actor answering check_events_writers from PostgreSQL: a
/// writer is running while it has a connection (pg_stat_activity), and its
/// recorded position is its row in stream_positions. `pool` must outlive it.
writer_liveness_actor spawn_writer_liveness(caf::actor_system& sys, storage::pool& pool);

} // namespace axon::actors
