// actors/streams/device_lists_writer.hpp -- the device_lists stream's writer
// (`stream_writers.device_lists`): device keys, one-time keys, fallback keys
// and the stream of device list changes.
#pragma once

#include "actors/streams/account_data_writer.hpp" // stream_writer_deps
#include "messages/caf_types.hpp"

namespace axon::actors {

/// Spawns the writer on its own thread (it blocks on the database), starting
/// after stream position `start_pos`.
device_lists_writer_actor spawn_device_lists_writer(caf::actor_system& sys,
                                                    stream_writer_deps deps, int64_t start_pos);

} // namespace axon::actors
