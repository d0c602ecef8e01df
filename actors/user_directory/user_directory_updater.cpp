// actors/user_directory/user_directory_updater.cpp
//
// The updater never trusts an event's content for what the directory should
// say: a membership, join rules or history visibility event only names what
// to look at again (the user in the room, or the room), and the room's
// current state decides. So events applied twice, late or out of order
// (several events writers number events from one sequence, and a row with a
// lower position can arrive after a higher one) still leave the right
// directory. A stream row carries the room and state key, so live updates
// need no read of the events; the stored position only bounds the catch-up
// at start, which re-reads the events after it.
#include "actors/user_directory/user_directory_updater.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/user_directory_store.hpp"

namespace axon::actors {

namespace {

// ---- constants -----------------------------------------------------------------

constexpr size_t batch = 500;

// ---- state ---------------------------------------------------------------------

struct updater_state {
  std::unique_ptr<storage::user_directory_store> store;
  int64_t pos = 0;
  bool behind = true; ///< a catch-up is owed (start, or a failed update)
  static inline const char* name = "user_directory_updater";
};

using catch_up_atom = caf::atom_constant<caf::atom("catchup")>;

// ---- helpers ---------------------------------------------------------------------

bool followed(const std::string& type) {
  return type == "m.room.member" || type == "m.room.join_rules" ||
         type == "m.room.history_visibility";
}

/// Looks again at what one state event may have changed.
void apply(storage::user_directory_store& store, const std::string& room_id,
           const std::string& type, const std::string& state_key) {
  if (type == "m.room.member") store.refresh_membership(room_id, state_key);
  else if (state_key.empty()) store.refresh_room(room_id);
}

/// Applies every relevant event after the stored position up to `to`.
void catch_up(updater_state& st, int64_t to) {
  while (st.pos < to) {
    auto events = st.store->relevant_events(st.pos, to, batch);
    for (auto& e : events) {
      apply(*st.store, e.room_id, e.type, e.state_key);
      st.pos = e.pos;
    }
    if (events.size() < batch) st.pos = to;
    st.store->set_position(st.pos);
  }
}

// ---- behavior --------------------------------------------------------------------

caf::behavior updater(caf::stateful_actor<updater_state>* self, storage::pool* pool) {
  self->state.store = std::make_unique<storage::user_directory_store>(*pool);
  self->state.pos = self->state.store->position();
  self->send(self, catch_up_atom::value);
  return {
    [=](catch_up_atom) {
      try {
        auto c = pool->acquire();
        auto max = c->exec("SELECT COALESCE(MAX(stream_ordering), 0) FROM events").rows[0].i64(0);
        catch_up(self->state, max);
        self->state.behind = false;
      } catch (const std::exception& e) {
        // Retried on the next row; the directory is only behind meanwhile.
        caf::aout(self) << "user directory: catch-up failed: " << e.what() << "\n";
      }
    },
    [=](const msg::events_advanced& adv) {
      auto& st = self->state;
      try {
        if (st.behind) {
          catch_up(st, std::max(st.pos, adv.pos));
          st.behind = false;
        }
        bool applied = false;
        for (auto& r : adv.rows)
          if (r.is_state && followed(r.type)) {
            apply(*st.store, r.room_id, r.type, r.state_key);
            applied = true;
          }
        if (adv.pos > st.pos) {
          st.pos = adv.pos;
          // Stored only with something applied: a stale position costs a
          // catch-up over events it skips, never a write per message.
          if (applied) st.store->set_position(st.pos);
        }
      } catch (const std::exception& e) {
        st.behind = true;
        caf::aout(self) << "user directory: update failed: " << e.what() << "\n";
      }
    },
    [=](const msg::stream_advanced&) {},
  };
}

} // namespace

caf::actor spawn_user_directory_updater(caf::actor_system& sys, storage::pool* pool) {
  return spawn_role(sys, updater, pool);
}

} // namespace axon::actors
