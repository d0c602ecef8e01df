// actors/streams/receipts_writer.hpp -- the receipts stream's writer
// (`stream_writers.receipts`): m.read and m.read.private receipts.
#pragma once

#include "actors/streams/account_data_writer.hpp" // stream_writer_deps
#include "messages/caf_types.hpp"

namespace axon::actors {

/// Spawns the writer on its own thread (it blocks on the database), starting
/// after the persisted position `start_pos`.
receipts_writer_actor spawn_receipts_writer(caf::actor_system& sys, stream_writer_deps deps,
                                            int64_t start_pos);

} // namespace axon::actors
