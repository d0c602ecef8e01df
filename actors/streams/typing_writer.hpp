// actors/streams/typing_writer.hpp -- the typing stream's writer
// (`stream_writers.typing`). Like Synapse, typing notices live only in the
// writer's memory (no table). Positions restart with the writer, from a
// thousand per millisecond of its start time: past any it handed out before.
//
// How /sync on any instance gets typing state: rows carry only the room id
// (so only that room's members are woken), and readers ask the writer for the
// current typing users of their rooms (msg::get_typing, through the
// transport). The writer's memory is then the one source of truth wherever it
// runs; no instance has to rebuild a cache after it or the writer restarts.
#pragma once

#include "actors/streams/account_data_writer.hpp" // stream_writer_deps
#include "messages/caf_types.hpp"

namespace axon::actors {

/// Longest typing timeout a client may ask for (Synapse's cap).
constexpr int64_t max_typing_timeout_ms = 120000;

/// Spawns the writer (a scheduled actor). Subscribe it to the stream bus for
/// m.room.member rows (transport::subscribe_to_bus): a user who leaves stops
/// typing. Where pub/sub brings those rows, send it the receiver's
/// msg::stream_caught_up too: after lost rows it reads the typing users'
/// memberships from `deps.pool` (its only database reads). `start_pos`: a
/// thousand per millisecond of the clock now (past any position an earlier
/// run of it handed out); the caller announces it.
typing_writer_actor spawn_typing_writer(caf::actor_system& sys, stream_writer_deps deps,
                                        int64_t start_pos);

} // namespace axon::actors
