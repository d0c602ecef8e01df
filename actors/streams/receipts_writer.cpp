// actors/streams/receipts_writer.cpp
//
// Same shape as the account_data writer: allocate the next position, persist,
// publish, reply. A public receipt's row names the room (its members' /sync
// wake up); a private one names only its owner, so nobody else is woken and
// nothing about it reaches another instance's waiters.
#include "actors/streams/receipts_writer.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/receipts_store.hpp"

namespace axon::actors {

namespace {

struct receipts_writer_state {
  stream_writer_deps deps;
  std::unique_ptr<storage::receipts_store> store;
  int64_t pos = 0;
  static inline const char* name = "receipts_writer";
};

using writer_pointer = receipts_writer_actor::stateful_pointer<receipts_writer_state>;

receipts_writer_actor::behavior_type receipts_writer(writer_pointer self, stream_writer_deps deps,
                                                     int64_t start_pos) {
  self->state.store = std::make_unique<storage::receipts_store>(*deps.pool);
  self->state.deps = std::move(deps);
  self->state.pos = start_pos;
  return {
    [=](msg::put_receipt& req) -> caf::result<int64_t> {
      auto& st = self->state;
      auto pos = st.pos + 1;
      try {
        // A receipt for an earlier event than the current one is ignored.
        if (!st.store->put({req.room_id, req.receipt_type, req.user_id, req.thread_id,
                            req.event_id, req.data, pos}))
          return st.pos;
      } catch (const std::exception& e) {
        return make_error(errc::unknown, std::string("could not store the receipt: ") + e.what());
      }
      st.pos = pos;
      msg::stream_row row{pos, req.room_id, {}};
      if (req.receipt_type == "m.read.private") row = msg::stream_row{pos, "", {req.user_id}};
      caf::anon_send(st.deps.publisher,
                     msg::stream_advanced{static_cast<uint8_t>(stream_id::receipts),
                                          st.deps.instance_name, pos, {std::move(row)}});
      return pos;
    },
  };
}

} // namespace

receipts_writer_actor spawn_receipts_writer(caf::actor_system& sys, stream_writer_deps deps,
                                            int64_t start_pos) {
  return spawn_role(sys, receipts_writer, std::move(deps), start_pos);
}

} // namespace axon::actors
