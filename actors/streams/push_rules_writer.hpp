// actors/streams/push_rules_writer.hpp -- the push_rules stream's writer
// (`stream_writers.push_rules`): every change of a user's push rules.
#pragma once

#include "actors/streams/account_data_writer.hpp" // stream_writer_deps
#include "matrix/push_rules.hpp"
#include "messages/caf_types.hpp"

namespace axon::actors {

/// The errc of a push rule error's errcode (M_NOT_FOUND 404, M_MISSING_PARAM,
/// M_BAD_JSON, otherwise M_INVALID_PARAM 400).
errc push_rule_errc(const matrix::push_rule_error& e);

/// Spawns the writer on its own thread (it blocks on the database), starting
/// after the stream position `start_pos` already persisted.
push_rules_writer_actor spawn_push_rules_writer(caf::actor_system& sys, stream_writer_deps deps,
                                                int64_t start_pos);

} // namespace axon::actors
