// messages/caf_types.hpp -- CAF registration of every message type, the
// "matrix" error category, and the typed interfaces of the roles.
// Include only from actor and transport sources (it pulls in caf/all.hpp).
#pragma once

#include "messages/account_data.hpp"
#include "messages/errors.hpp"
#include "messages/events.hpp"
#include "messages/streams.hpp"

#include <caf/all.hpp>

namespace axon {

/// A Matrix error as a CAF error value (category "matrix").
inline caf::error make_error(errc e, std::string msg) {
  return {static_cast<uint8_t>(e), caf::atom("matrix"), caf::make_message(std::move(msg))};
}

/// The errc and message of a CAF error; non-matrix errors map to
/// unknown/timeout/unavailable.
std::pair<errc, std::string> from_caf_error(const caf::error& err);

using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// events writer ("event persister"): owns the rooms its shard maps to.
using events_writer_actor = caf::typed_actor<
  caf::replies_to<msg::send_events>::with<msg::send_events_reply>>;

/// account_data writer: owns the account_data stream (tags included).
using account_data_writer_actor = caf::typed_actor<
  caf::replies_to<msg::put_account_data>::with<int64_t>,
  caf::replies_to<msg::update_room_tag>::with<int64_t>>;

/// notifier: one per instance; wakes waiting /sync requests.
using notifier_actor = caf::typed_actor<
  caf::reacts_to<msg::events_advanced>,
  caf::reacts_to<msg::stream_advanced>,
  caf::replies_to<msg::wait_for_updates>::with<std::vector<int64_t>>,
  caf::replies_to<msg::await_stream_position>::with<int64_t>,
  caf::replies_to<caf::get_atom>::with<std::vector<int64_t>>>;

/// Registers every message type and the error category.
void register_message_types(caf::actor_system_config& cfg);

} // namespace axon
