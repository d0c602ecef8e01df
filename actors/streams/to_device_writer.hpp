// actors/streams/to_device_writer.hpp -- the to_device stream's writer
// (`stream_writers.to_device`): device inboxes of send-to-device messages.
#pragma once

#include "actors/streams/account_data_writer.hpp"
#include "messages/caf_types.hpp"

namespace axon::actors {

/// Spawns the writer on its own thread (it blocks on the database).
/// `start_pos` is the stream's persisted position (to_device_store::max_stream_id).
to_device_writer_actor spawn_to_device_writer(caf::actor_system& sys, stream_writer_deps deps,
                                              int64_t start_pos);

} // namespace axon::actors
