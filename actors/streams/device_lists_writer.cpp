// actors/streams/device_lists_writer.cpp
//
// One writer owns every E2EE key table, so "is this one-time key id taken?"
// followed by the insert, and "take a one-time key" (each handed out exactly
// once), need no cross-request locking; the store's claim is atomic on its
// own as well.
//
// Whom a row concerns: a user's device list matters to everyone sharing a
// room with them. Rather than listing those users (a join over every room's
// members at write time, stale as soon as someone joins), the writer
// publishes one row per room the user is joined to (room_id set) plus one for
// the user (their own other devices). Every notifier already matches
// room-concerned rows against each waiter's current rooms, so everyone
// sharing a room wakes, whoever joined since. /sync then computes
// `device_lists.changed` from the device_lists_stream table.
#include "actors/streams/device_lists_writer.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/cross_signing_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

namespace axon::actors {

namespace {

using nlohmann::json;

// ---- state -------------------------------------------------------------------

struct device_lists_writer_state {
  stream_writer_deps deps;
  std::unique_ptr<storage::e2e_keys_store> store;
  std::unique_ptr<storage::cross_signing_store> xsign;
  int64_t pos = 0;
  static inline const char* name = "device_lists_writer";
};

using writer_pointer = device_lists_writer_actor::stateful_pointer<device_lists_writer_state>;

// ---- helpers -------------------------------------------------------------------

/// {"alg:id": key} (validated by the handler) as stored keys.
std::vector<storage::e2e_key> split_keys(const std::string& text) {
  std::vector<storage::e2e_key> out;
  if (text.empty()) return out;
  auto keys = json::parse(text); // items() of a temporary would dangle
  for (auto& [name, key] : keys.items()) {
    auto colon = name.find(':');
    out.push_back({name.substr(0, colon), name.substr(colon + 1), key.dump()});
  }
  return out;
}

/// Records a change of the user's devices at the next position and wakes
/// everyone sharing a room with the user (see the file comment).
int64_t advance(writer_pointer self, const std::string& user_id,
                const std::vector<std::string>& device_ids) {
  auto& st = self->state;
  auto pos = st.pos + 1;
  st.store->add_stream_rows(pos, user_id, device_ids);
  st.pos = pos;
  msg::stream_advanced adv{static_cast<uint8_t>(stream_id::device_lists), st.deps.instance_name,
                           pos, {msg::stream_row{pos, "", {user_id}}}};
  for (auto& room : st.store->joined_rooms(user_id))
    adv.rows.push_back(msg::stream_row{pos, room, {}});
  caf::anon_send(st.deps.publisher, std::move(adv));
  return pos;
}

caf::error db_failure(const std::exception& e) {
  return make_error(errc::unknown, std::string("could not store keys: ") + e.what());
}

// ---- behavior ------------------------------------------------------------------

device_lists_writer_actor::behavior_type device_lists_writer(writer_pointer self,
                                                             stream_writer_deps deps,
                                                             int64_t start_pos) {
  self->state.store = std::make_unique<storage::e2e_keys_store>(*deps.pool);
  self->state.xsign = std::make_unique<storage::cross_signing_store>(*deps.pool);
  self->state.deps = std::move(deps);
  self->state.pos = start_pos;
  return {
    [=](msg::upload_keys& req) -> caf::result<int64_t> {
      try {
        auto& store = *self->state.store;
        auto otks = split_keys(req.one_time_keys);
        // Synapse: re-uploading an id with other content is an error, and
        // nothing of the request is stored.
        if (auto bad = store.conflicting_one_time_key(req.user_id, req.device_id, otks))
          return make_error(errc::invalid_param, "One time key " + *bad + " already exists");
        auto now = self->state.deps.env->now_ms();
        store.add_one_time_keys(req.user_id, req.device_id, otks, now);
        store.set_fallback_keys(req.user_id, req.device_id, split_keys(req.fallback_keys));
        if (!req.device_keys.empty() &&
            store.set_device_keys(req.user_id, req.device_id, req.device_keys, now))
          return advance(self, req.user_id, {req.device_id});
        return self->state.pos;
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](msg::claim_keys& req) -> caf::result<msg::claim_keys_reply> {
      try {
        std::vector<storage::claim_request> reqs;
        auto claims = json::parse(req.claims);
        for (auto& [user, devices] : claims.items())
          for (auto& [device, alg] : devices.items())
            reqs.push_back({user, device, alg.get<std::string>()});
        json out = json::object();
        for (auto& k : self->state.store->claim(reqs))
          out[k.user_id][k.device_id][k.algorithm + ":" + k.key_id] = json::parse(k.key_json);
        return msg::claim_keys_reply{out.dump()};
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](msg::device_list_changed& req) -> caf::result<int64_t> {
      try {
        if (req.deleted) self->state.store->delete_device_keys(req.user_id, req.device_ids);
        return advance(self, req.user_id, req.device_ids);
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    // Cross-signing: the handler has checked the keys and signatures; the
    // change is news to everyone sharing a room with the user (their
    // devices' trust changes), as in Synapse, and is recorded under the
    // public keys as "device ids".
    [=](msg::upload_cross_signing_keys& req) -> caf::result<int64_t> {
      try {
        std::map<std::string, std::string> keys;
        std::vector<std::string> ids;
        auto take = [&](const char* type, const std::string& text) {
          if (text.empty()) return;
          keys[type] = text;
          auto k = json::parse(text);
          ids.push_back(k.at("keys").begin().value().get<std::string>());
        };
        take("master", req.master_key);
        take("self_signing", req.self_signing_key);
        take("user_signing", req.user_signing_key);
        if (keys.empty()) return self->state.pos;
        self->state.xsign->set_keys(req.user_id, keys, self->state.pos + 1);
        return advance(self, req.user_id, ids);
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](msg::upload_signatures& req) -> caf::result<int64_t> {
      try {
        std::vector<storage::cross_signing_signature> sigs;
        std::map<std::string, std::vector<std::string>> targets;
        for (auto& s : json::parse(req.signatures)) {
          sigs.push_back({req.user_id, s.at("key_id").get<std::string>(),
                          s.at("target_user_id").get<std::string>(),
                          s.at("target_device_id").get<std::string>(),
                          s.at("signature").get<std::string>()});
          targets[sigs.back().target_user_id].push_back(sigs.back().target_device_id);
        }
        if (sigs.empty()) return self->state.pos;
        self->state.xsign->add_signatures(sigs);
        int64_t pos = self->state.pos;
        for (auto& [user, ids] : targets) pos = advance(self, user, ids);
        return pos;
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
  };
}

} // namespace

device_lists_writer_actor spawn_device_lists_writer(caf::actor_system& sys,
                                                    stream_writer_deps deps, int64_t start_pos) {
  return spawn_role(sys, device_lists_writer, std::move(deps), start_pos);
}

} // namespace axon::actors
