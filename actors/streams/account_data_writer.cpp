// actors/streams/account_data_writer.cpp
//
// One writer owns the stream, so read-modify-write (tags) needs no locking,
// and positions are handed out in order: the row is in the database before
// the position is published (DESIGN.md guarantee).
#include "actors/streams/account_data_writer.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/account_data_store.hpp"

#include <nlohmann/json.hpp>

namespace axon::actors {

namespace {

using nlohmann::json;

// ---- state -------------------------------------------------------------------

struct account_data_writer_state {
  stream_writer_deps deps;
  std::unique_ptr<storage::account_data_store> store;
  int64_t pos = 0;
  static inline const char* name = "account_data_writer";
};

using writer_pointer = account_data_writer_actor::stateful_pointer<account_data_writer_state>;

// ---- helpers -------------------------------------------------------------------

/// Persists one entry at the next position and publishes it.
int64_t write(writer_pointer self, const std::string& user_id, const std::string& room_id,
              const std::string& type, const std::string& content) {
  auto& st = self->state;
  auto pos = st.pos + 1;
  st.store->put(user_id, room_id, type, content, pos);
  st.pos = pos;
  msg::stream_advanced adv{static_cast<uint8_t>(stream_id::account_data), st.deps.instance_name,
                           pos, {msg::stream_row{pos, "", {user_id}}}};
  caf::anon_send(st.deps.publisher, std::move(adv));
  return pos;
}

caf::error db_failure(const std::exception& e) {
  return make_error(errc::unknown, std::string("could not store account data: ") + e.what());
}

// ---- behavior ------------------------------------------------------------------

account_data_writer_actor::behavior_type account_data_writer(writer_pointer self,
                                                             stream_writer_deps deps,
                                                             int64_t start_pos) {
  self->state.store = std::make_unique<storage::account_data_store>(*deps.pool);
  self->state.deps = std::move(deps);
  self->state.pos = start_pos;
  return {
    [=](msg::put_account_data& req) -> caf::result<int64_t> {
      try {
        return write(self, req.user_id, req.room_id, req.type, req.content);
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](msg::update_room_tag& req) -> caf::result<int64_t> {
      try {
        json tags = json::object();
        if (auto cur = self->state.store->get(req.user_id, req.room_id, "m.tag")) {
          auto j = json::parse(*cur, nullptr, false);
          if (j.is_object() && j.contains("tags") && j["tags"].is_object()) tags = j["tags"];
        }
        if (req.content.empty()) tags.erase(req.tag);
        else tags[req.tag] = json::parse(req.content);
        return write(self, req.user_id, req.room_id, "m.tag", json{{"tags", tags}}.dump());
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
  };
}

} // namespace

account_data_writer_actor spawn_account_data_writer(caf::actor_system& sys,
                                                    stream_writer_deps deps, int64_t start_pos) {
  return spawn_role(sys, account_data_writer, std::move(deps), start_pos);
}

} // namespace axon::actors
