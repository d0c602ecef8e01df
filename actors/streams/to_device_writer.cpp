// actors/streams/to_device_writer.cpp
//
// One writer owns the stream: positions are handed out in order, each
// request's messages and its transaction id are stored in one transaction
// before the position is published, and only this actor deletes acknowledged
// messages (logging a device out drops its inbox in accounts_store).
#include "actors/streams/to_device_writer.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/to_device_store.hpp"

#include <chrono>
#include <set>

namespace axon::actors {

namespace {

// ---- state -------------------------------------------------------------------

struct to_device_writer_state {
  stream_writer_deps deps;
  std::unique_ptr<storage::to_device_store> store;
  int64_t pos = 0;
  static inline const char* name = "to_device_writer";
};

using writer_pointer = to_device_writer_actor::stateful_pointer<to_device_writer_state>;

// ---- helpers -------------------------------------------------------------------

caf::error db_failure(const std::exception& e) {
  return make_error(errc::unknown, std::string("could not store to-device messages: ") + e.what());
}

/// Stores the request at the next position (or finds its earlier position)
/// and publishes one row per recipient user, so only recipients are woken.
int64_t send(writer_pointer self, const msg::send_to_device& req) {
  auto& st = self->state;
  if (auto done = st.store->find_txn(req.sender, req.sender_device, req.txn_id)) return *done;
  std::vector<storage::inbox_message> messages;
  std::set<std::string> recipients;
  for (auto& d : req.deliveries) {
    messages.push_back({d.user_id, d.device_id, d.message});
    recipients.insert(d.user_id);
  }
  std::vector<storage::outbox_message> remote;
  for (auto& r : req.remote) remote.push_back({r.destination, r.message_id, r.content});
  // Nothing to deliver: remember the transaction at the current position.
  bool nothing = messages.empty() && remote.empty();
  auto pos = nothing ? st.pos : st.pos + 1;
  st.store->add_messages(req.sender, req.sender_device, req.txn_id, messages, pos,
                         st.deps.instance_name, st.deps.env->now_ms(), remote);
  if (nothing) return pos;
  st.pos = pos;
  msg::stream_advanced adv{static_cast<uint8_t>(stream_id::to_device), st.deps.instance_name,
                           pos, {}};
  for (auto& user : recipients) adv.rows.push_back(msg::stream_row{pos, "", {user}});
  caf::anon_send(st.deps.publisher, std::move(adv));
  return pos;
}

// ---- behavior ------------------------------------------------------------------

to_device_writer_actor::behavior_type to_device_writer(writer_pointer self,
                                                       stream_writer_deps deps,
                                                       int64_t start_pos) {
  self->state.store = std::make_unique<storage::to_device_store>(*deps.pool);
  self->state.deps = std::move(deps);
  self->state.pos = start_pos;
  return {
    [=](msg::send_to_device& req) -> caf::result<int64_t> {
      try {
        return send(self, req);
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](msg::ack_to_device& req) -> caf::result<int64_t> {
      try {
        self->state.store->delete_messages_up_to(req.user_id, req.device_id, req.up_to);
        return self->state.pos;
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
  };
}

} // namespace

to_device_writer_actor spawn_to_device_writer(caf::actor_system& sys, stream_writer_deps deps,
                                              int64_t start_pos) {
  return spawn_role(sys, to_device_writer, std::move(deps), start_pos);
}

} // namespace axon::actors
