// messages/caf_types.hpp -- CAF registration of every message type, the
// "matrix" error category, and the typed interfaces of the roles.
// Include only from actor and transport sources (it pulls in caf/all.hpp).
#pragma once

#include "messages/account_data.hpp"
#include "messages/device_lists.hpp"
#include "messages/ephemeral.hpp"
#include "messages/errors.hpp"
#include "messages/events.hpp"
#include "messages/federation.hpp"
#include "messages/outbound_http.hpp"
#include "messages/presence.hpp"
#include "messages/push_rules.hpp"
#include "messages/streams.hpp"
#include "messages/to_device.hpp"

#include <caf/all.hpp>

#include <functional>

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
  caf::replies_to<msg::send_events>::with<msg::send_events_reply>,
  caf::replies_to<msg::get_events_position>::with<int64_t>>;

/// events-writer liveness checker (several events writers): which writers
/// are running (actors/notifier/writer_liveness.hpp).
using writer_liveness_actor = caf::typed_actor<
  caf::replies_to<msg::check_events_writers>::with<msg::events_writers_status>>;

/// account_data writer: owns the account_data stream (tags included).
using account_data_writer_actor = caf::typed_actor<
  caf::replies_to<msg::put_account_data>::with<int64_t>,
  caf::replies_to<msg::update_room_tag>::with<int64_t>>;

/// typing writer: owns the typing stream; typing state lives in its memory.
using typing_writer_actor = caf::typed_actor<
  caf::replies_to<msg::set_typing>::with<int64_t>,
  caf::replies_to<msg::get_typing>::with<msg::typing_snapshot>>;

/// receipts writer: owns the receipts stream.
using receipts_writer_actor = caf::typed_actor<
  caf::replies_to<msg::put_receipt>::with<int64_t>>;

/// device_lists writer: owns device keys, one-time and fallback keys and the
/// device_lists stream.
using device_lists_writer_actor = caf::typed_actor<
  caf::replies_to<msg::upload_keys>::with<int64_t>,
  caf::replies_to<msg::claim_keys>::with<msg::claim_keys_reply>,
  caf::replies_to<msg::device_list_changed>::with<int64_t>,
  caf::replies_to<msg::upload_cross_signing_keys>::with<int64_t>,
  caf::replies_to<msg::upload_signatures>::with<int64_t>>;

/// presence writer: owns the presence stream and the presence state machine
/// (idle and sync timers).
using presence_writer_actor = caf::typed_actor<
  caf::replies_to<msg::set_presence>::with<int64_t>,
  caf::replies_to<msg::user_syncing>::with<int64_t>>;

/// to_device writer: owns the to_device stream (device inboxes).
using to_device_writer_actor = caf::typed_actor<
  caf::replies_to<msg::send_to_device>::with<int64_t>,
  caf::replies_to<msg::ack_to_device>::with<int64_t>>;

/// The federation sender's own messages: a transaction ended (destination,
/// the outbox position it covered, the HTTP status or 0, why it failed),
/// a retry is due, the periodic scan, a look at the PDU queues (once for
/// all the events updates ahead of it in the mailbox).
using txn_done_atom = caf::atom_constant<caf::atom("txndone")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using scan_atom = caf::atom_constant<caf::atom("scan")>;
using pdu_check_atom = caf::atom_constant<caf::atom("pducheck")>;

/// federation sender: one queue per destination, one transaction in
/// flight to each (actors/federation/federation_sender.hpp).
using federation_sender_actor = caf::typed_actor<
  caf::reacts_to<msg::wake_federation>,
  caf::reacts_to<msg::events_advanced>,
  caf::reacts_to<msg::stream_advanced>,
  caf::reacts_to<msg::stream_caught_up>,
  caf::reacts_to<txn_done_atom, std::string, int64_t, int, std::string>,
  caf::reacts_to<retry_atom, std::string>,
  caf::reacts_to<scan_atom>,
  caf::reacts_to<pdu_check_atom>>;

/// push_rules writer: owns the push_rules stream (every user's push rules).
using push_rules_writer_actor = caf::typed_actor<
  caf::replies_to<msg::change_push_rule>::with<int64_t>>;

/// A stream_caught_up sent by the pub/sub thread through its shortcut
/// (notifier_shortcut): the notifier counts it as handled.
using counted_atom = caf::atom_constant<caf::atom("counted")>;

/// notifier: one per instance; wakes waiting /sync requests.
using notifier_actor = caf::typed_actor<
  caf::reacts_to<msg::events_advanced>,
  caf::reacts_to<msg::stream_advanced>,
  caf::replies_to<msg::wait_for_updates>::with<std::vector<int64_t>>,
  caf::replies_to<msg::await_stream_position>::with<int64_t>,
  caf::reacts_to<msg::stream_caught_up>,
  caf::reacts_to<counted_atom, msg::stream_caught_up>,
  caf::replies_to<caf::get_atom>::with<std::vector<int64_t>>>;

/// Lets the pub/sub thread apply rows from other instances to the notifier
/// itself when they wake and answer no one (one thread wake-up per row
/// instead of two; actors/notifier/notifier.cpp): true when applied; false:
/// send it to the notifier (nothing changed). `caught_up` sends a
/// stream_caught_up to the notifier; until it is handled, rows take the
/// message path too (they must not overtake it: a row past the caught-up
/// position would make the catch-up look done, and wake no one).
struct notifier_shortcut {
  std::function<bool(const msg::events_advanced&)> events;
  /// The same for this instance's events writer: `visible` runs once the
  /// positions are there and before the long-polls are woken (the writer
  /// answers its senders then); not run when it returns false.
  std::function<bool(const msg::events_advanced&, const std::function<void()>& visible)> own_events;
  std::function<bool(const msg::stream_advanced&)> stream;
  std::function<void(const msg::stream_caught_up&)> caught_up;
};

/// Long-polls that wait without a thread and without an actor of their own
/// (the HTTP listener's /sync and /events; actors/notifier/notifier.cpp).
/// `wait` registers a waiter with the notifier; the wake-up (a row that
/// concerns it, its timeout, the notifier stopping) runs `done` with every
/// positions entry on the waking thread, where it must only hand the work
/// on. Returns the waiter's id for `cancel` (0 when `done` already ran).
/// `cancel` forgets a waiter whose client went away: `done` never runs, and
/// what it holds is freed now rather than at the timeout. `waiting` counts
/// the waiters (for overload figures).
struct notifier_waits {
  std::function<uint64_t(const msg::wait_for_updates&, std::function<void(std::vector<int64_t>)>)> wait;
  std::function<void(uint64_t)> cancel;
  std::function<size_t()> waiting;
};
/// The event loop's answer to the http client actor's request `id`
/// (internal: a response promise is delivered on the actor's own thread).
using http_answer_atom = caf::atom_constant<caf::atom("httpanswer")>;

/// http client: one per instance, over actors/http/http_client.hpp; answers
/// every request (an HTTP status, or a transport failure in `error`).
using http_client_actor = caf::typed_actor<
  caf::replies_to<msg::outbound_request>::with<msg::outbound_response>,
  caf::reacts_to<http_answer_atom, uint64_t, msg::outbound_response>>;

/// Registers every message type and the error category.
void register_message_types(caf::actor_system_config& cfg);

} // namespace axon
