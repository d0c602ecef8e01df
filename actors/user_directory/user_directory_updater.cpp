// actors/user_directory/user_directory_updater.cpp
//
// The updater reads the events it cares about (memberships, join rules,
// history visibility) from the database in stream order rather than trusting
// the rows it is sent: a row only says "the stream moved". So a restart or a
// missed row costs a re-read, never a wrong directory; applying an event
// twice is harmless.
#include "actors/user_directory/user_directory_updater.hpp"
#include "actors/spawn_role.hpp"

#include "storage/stores/user_directory_store.hpp"

namespace axon::actors {

namespace {

using nlohmann::json;

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

std::optional<std::string> string_field(const json& content, const char* key) {
  auto i = content.find(key);
  if (i == content.end() || !i->is_string()) return std::nullopt;
  return i->get<std::string>();
}

void apply_event(storage::user_directory_store& store, const json& ev) {
  auto type = ev.value("type", "");
  auto room_id = ev.value("room_id", "");
  const auto& content = ev.contains("content") && ev["content"].is_object() ? ev["content"] : json::object();
  if (type == "m.room.member") {
    auto user = ev.value("state_key", "");
    bool joined = string_field(content, "membership").value_or("") == "join";
    store.set_membership(user, room_id, joined, joined && store.room_is_public(room_id),
                         string_field(content, "displayname"), string_field(content, "avatar_url"));
  } else {
    store.set_room_public(room_id, store.room_is_public(room_id));
  }
}

/// Applies every relevant event after the stored position up to `to`.
void catch_up(updater_state& st, int64_t to) {
  while (st.pos < to) {
    auto events = st.store->relevant_events(st.pos, to, batch);
    for (auto& [pos, ev] : events) {
      apply_event(*st.store, ev);
      st.pos = pos;
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
      bool relevant = false;
      for (auto& r : adv.rows)
        relevant |= r.type == "m.room.member" || r.type == "m.room.join_rules" ||
                    r.type == "m.room.history_visibility";
      if (!relevant && !self->state.behind) {
        // Nothing to apply (the bus sends only relevant updates, but stay
        // correct if it doesn't); the stored position catches up with the
        // next relevant event.
        if (adv.pos > self->state.pos) self->state.pos = adv.pos;
        return;
      }
      try {
        catch_up(self->state, adv.pos);
        self->state.behind = false;
      } catch (const std::exception& e) {
        self->state.behind = true;
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
