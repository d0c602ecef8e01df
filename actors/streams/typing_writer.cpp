// actors/streams/typing_writer.cpp
//
// Per room: who is typing, each with a generation number. Starting to type
// (again) bumps the user's generation and schedules an expiry message for it;
// an expiry whose generation is no longer current is stale and ignored. Only
// changes of the set of typing users make a stream row: refreshing a typing
// notice moves nothing.
#include "actors/streams/typing_writer.hpp"

#include "storage/stores/rooms_store.hpp"

#include <algorithm>
#include <iostream>
#include <map>
#include <unordered_map>

namespace axon::actors {

namespace {

using expire_atom = caf::atom_constant<caf::atom("expire")>;

struct room_typing {
  std::map<std::string, uint64_t> users; ///< user id -> generation
  int64_t changed = 0;                   ///< position of the last change
};

struct typing_writer_state {
  stream_writer_deps deps;
  std::unordered_map<std::string, room_typing> rooms;
  uint64_t next_generation = 0;
  /// Typing lives in memory only, so positions restart with the writer: from
  /// a thousand per millisecond of the clock at its start, above anything
  /// it handed out before (readers' positions and clients' tokens move on
  /// instead of waiting for it to climb back).
  int64_t start = 0;
  int64_t pos = 0;
  static inline const char* name = "typing_writer";
};

/// The public interface plus the internal expiry timer and the events
/// stream (memberships), which the stream bus sends it.
using typing_writer_impl = typing_writer_actor::extend<
  caf::reacts_to<expire_atom, std::string, std::string, uint64_t>,
  caf::reacts_to<msg::events_advanced>,
  caf::reacts_to<msg::stream_caught_up>>;
using writer_pointer = typing_writer_impl::stateful_pointer<typing_writer_state>;

/// The room's typing set changed: next position, published.
void publish(writer_pointer self, const std::string& room_id) {
  auto& st = self->state;
  auto pos = ++st.pos;
  st.rooms[room_id].changed = pos;
  caf::anon_send(st.deps.publisher,
                 msg::stream_advanced{static_cast<uint8_t>(stream_id::typing),
                                      st.deps.instance_name, pos,
                                      {msg::stream_row{pos, room_id, {}}}});
}

std::vector<std::string> users_of(const room_typing& r) {
  std::vector<std::string> out;
  for (auto& [u, gen] : r.users) out.push_back(u);
  return out;
}

typing_writer_impl::behavior_type typing_writer(writer_pointer self, stream_writer_deps deps,
                                                int64_t start_pos) {
  self->state.deps = std::move(deps);
  self->state.start = self->state.pos = start_pos;
  return {
    [=](msg::set_typing& req) -> int64_t {
      auto& st = self->state;
      auto& room = st.rooms[req.room_id];
      if (req.typing) {
        auto timeout = std::clamp<int64_t>(req.timeout_ms, 0, max_typing_timeout_ms);
        auto gen = ++st.next_generation;
        bool is_new = room.users.count(req.user_id) == 0;
        room.users[req.user_id] = gen;
        self->delayed_send(self, std::chrono::milliseconds(timeout),
                           expire_atom::value, req.room_id, req.user_id, gen);
        if (is_new) publish(self, req.room_id);
      } else if (room.users.erase(req.user_id) > 0) {
        publish(self, req.room_id);
      }
      return st.pos;
    },
    [=](msg::get_typing& req) -> msg::typing_snapshot {
      auto& st = self->state;
      // A position from before our start (or ahead of ours, from a clock
      // set back): every room, since who typed then is forgotten; none (an
      // initial sync): every room with someone typing.
      bool before_us = req.since > 0 && (req.since < st.start || req.since > st.pos);
      msg::typing_snapshot out{st.pos, {}};
      for (auto& id : req.room_ids) {
        auto r = st.rooms.find(id);
        if (before_us) out.rooms.push_back({id, r == st.rooms.end() ? std::vector<std::string>{}
                                                                     : users_of(r->second)});
        else if (r == st.rooms.end()) continue;
        else if (req.since <= 0 ? !r->second.users.empty() : r->second.changed > req.since)
          out.rooms.push_back({id, users_of(r->second)});
      }
      return out;
    },
    // A user who is no longer joined stops typing there (as Synapse does on
    // leave); the bus only sends updates with an m.room.member row.
    [=](const msg::events_advanced& adv) {
      auto& st = self->state;
      for (auto& row : adv.rows) {
        if (row.type != "m.room.member" || row.membership == "join") continue;
        auto r = st.rooms.find(row.room_id);
        if (r != st.rooms.end() && r->second.users.erase(row.state_key) > 0)
          publish(self, row.room_id);
      }
    },
    // Pub/sub lost events rows here (a gap, a reconnect): a leave among
    // them never came. Whoever is typing must still be joined.
    [=](const msg::stream_caught_up& up) {
      if (up.stream != static_cast<uint8_t>(index(stream_id::events)) || !self->state.deps.pool) return;
      auto& st = self->state;
      try {
        storage::rooms_store rooms(*st.deps.pool);
        for (auto& [room_id, r] : st.rooms) {
          bool changed = false;
          for (auto u = r.users.begin(); u != r.users.end();) {
            auto m = rooms.membership(u->first, room_id);
            if (m && m->membership == "join") ++u;
            else {
              u = r.users.erase(u);
              changed = true;
            }
          }
          if (changed) publish(self, room_id);
        }
      } catch (const std::exception& e) {
        std::cerr << "axon: typing writer: checking memberships after a gap failed: " << e.what() << "\n";
      }
    },
    [=](expire_atom, const std::string& room_id, const std::string& user_id, uint64_t generation) {
      auto& st = self->state;
      auto r = st.rooms.find(room_id);
      if (r == st.rooms.end()) return;
      auto u = r->second.users.find(user_id);
      if (u == r->second.users.end() || u->second != generation) return;
      r->second.users.erase(u);
      publish(self, room_id);
    },
  };
}

} // namespace

typing_writer_actor spawn_typing_writer(caf::actor_system& sys, stream_writer_deps deps,
                                        int64_t start_pos) {
  return caf::actor_cast<typing_writer_actor>(sys.spawn(typing_writer, std::move(deps), start_pos));
}

} // namespace axon::actors
