// transport/transport.hpp -- how request threads reach the roles.
//
// Handlers call these and never learn where the receiving actor lives: the
// one-process transport (local_transport.cpp) sends a CAF message; the
// replication transport (workers issue) forwards it over HTTP to the owning
// instance. Every call blocks the calling request thread (never call from a
// CAF scheduler thread) and raises axon::matrix_error on failure.
#pragma once

#include "messages/account_data.hpp"
#include "messages/device_lists.hpp"
#include "messages/ephemeral.hpp"
#include "messages/events.hpp"
#include "messages/federation.hpp"
#include "messages/presence.hpp"
#include "messages/push_rules.hpp"
#include "messages/streams.hpp"
#include "messages/to_device.hpp"

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace axon::transport {

class transport {
public:
  virtual ~transport() = default;

  /// Asks the events writer owning `req.room_id` to create and persist events.
  virtual msg::send_events_reply send_events(const msg::send_events& req) = 0;

  /// Asks the events writer `writer` how far it has persisted (several
  /// writers; see msg::get_events_position).
  virtual int64_t events_writer_position(const std::string& writer) = 0;

  /// Asks the account_data writer; returns the stream position of the change
  /// once this instance's readers can see it.
  virtual int64_t put_account_data(const msg::put_account_data& req) = 0;
  virtual int64_t update_room_tag(const msg::update_room_tag& req) = 0;

  /// Asks the push_rules writer to change a user's push rules; returns the
  /// push_rules position once this instance's readers can see it.
  virtual int64_t change_push_rule(const msg::change_push_rule& req) = 0;

  /// Asks the presence writer to set the user's presence; returns the
  /// presence position once this instance's readers can see it.
  virtual int64_t set_presence(const msg::set_presence& req) = 0;
  /// Tells the presence writer a /sync started. With `wait`, returns once
  /// readers here can see the user's resulting presence; without, returns
  /// at once. Never raises: presence is best effort for /sync.
  virtual void user_syncing(const msg::user_syncing& req, bool wait) = 0;

  /// Ask the device_lists writer. upload_keys and device_list_changed return
  /// the stream position once readers here can see it; claim_keys the keys.
  virtual int64_t upload_keys(const msg::upload_keys& req) = 0;
  virtual msg::claim_keys_reply claim_keys(const msg::claim_keys& req) = 0;
  virtual int64_t device_list_changed(const msg::device_list_changed& req) = 0;
  /// Cross-signing keys and signatures (device_lists writer); return the
  /// device_lists position once readers here can see it.
  virtual int64_t upload_cross_signing_keys(const msg::upload_cross_signing_keys& req) = 0;
  virtual int64_t upload_signatures(const msg::upload_signatures& req) = 0;

  /// Asks the to_device writer to store messages (idempotent per sending
  /// device and txn id) / drop a device's acknowledged messages; returns the
  /// to_device position once this instance's readers can see it.
  virtual int64_t send_to_device(const msg::send_to_device& req) = 0;
  virtual int64_t ack_to_device(const msg::ack_to_device& req) = 0;

  /// Tells the federation sender of each destination (federation_sender_instances,
  /// sharded as Synapse shards them) that its queue has something new, or,
  /// with server_up, that the server just reached us. Best effort: never
  /// fails the caller, never waits for an answer (the senders also scan
  /// their queues every minute).
  virtual void wake_federation(const msg::wake_federation& req) = 0;
  /// Sends a request to another homeserver from an instance that may
  /// (outbound_federation_restricted_to, sharded by destination): here when
  /// this one may, else through one that may. matrix_error when that
  /// instance can't be reached.
  virtual msg::federation_reply send_federation_request(const msg::federation_request& req) = 0;

  /// Asks the typing writer to start/stop a typing notice; returns the typing
  /// position once this instance's readers can see it.
  virtual int64_t set_typing(const msg::set_typing& req) = 0;
  /// Asks the typing writer (typing state lives only there) for the current
  /// typing users of rooms changed since a position.
  virtual msg::typing_snapshot get_typing(const msg::get_typing& req) = 0;

  /// Asks the receipts writer to store a receipt; returns its position once
  /// this instance's readers can see it.
  virtual int64_t put_receipt(const msg::put_receipt& req) = 0;

  /// Long-poll: returns every stream's position (token order) once a row
  /// past `req.since` concerns the waiter, or when the timeout passes.
  virtual std::vector<int64_t> wait_for_updates(const msg::wait_for_updates& req) = 0;
  /// The same without a thread: `done` runs with the positions (on the
  /// thread that wakes it: it must only hand the work on, never block).
  /// Returns an id for cancel_wait, 0 when `done` already ran. The default
  /// blocks the caller, for transports without an event loop.
  virtual uint64_t wait_for_updates_async(const msg::wait_for_updates& req,
                                          std::function<void(std::vector<int64_t>)> done) {
    done(wait_for_updates(req));
    return 0;
  }
  /// Forgets a wait whose client went away (its `done` never runs); an id
  /// already answered is ignored.
  virtual void cancel_wait(uint64_t /*id*/) {}

  /// Waits until readers here can see at least `target` (token order; what
  /// another instance has exposed, so durable). A stream still behind after
  /// `wait` is taken at its word (stream_caught_up: its rows are read from
  /// the database, every waiter wakes). Never raises.
  virtual void catch_up(const std::vector<int64_t>& target, std::chrono::milliseconds wait) = 0;
  /// Waits (at most `wait`) until readers here can see `target`, and takes
  /// nothing at its word: a position not known to be complete stays hidden.
  virtual void await_positions(const std::vector<int64_t>& target,
                               std::chrono::milliseconds wait) = 0;

  /// Linearizable reads: returns once readers here can see every write
  /// acknowledged anywhere before the call (what the database holds). One
  /// process: nothing to do. Several: one query of the durable positions
  /// (each events writer's entry included), then a bounded wait for pub/sub
  /// to bring the rows (see catch_up).
  virtual void read_barrier() {}

  /// Tells the other instances to drop cached entries (`cache` names the
  /// cache: "access_tokens" by token hash, "user_tokens" by user id). This
  /// instance drops its own itself. No-op in a one-process layout.
  virtual void invalidate_cache(const std::string& /*cache*/,
                                const std::vector<std::string>& /*keys*/) {}

  /// The position of `s` readers on this instance may expose (events with
  /// several writers: the lowest writer's).
  virtual int64_t position(stream_id s) = 0;
  /// Every positions entry, token order (messages/streams.hpp: the streams,
  /// then each events writer's).
  virtual std::vector<int64_t> positions() = 0;
  int64_t events_position() { return position(stream_id::events); }
};

} // namespace axon::transport
