// actors/streams/presence_writer.cpp
//
// Synapse's presence state machine (synapse/handlers/presence.py:
// handle_update, handle_timeout, should_notify), owned by one actor: every
// user's current presence lives in its memory; a change worth telling
// clients about is persisted at the next stream position, then published
// with one row naming the user and one row per room the user is joined to,
// so the notifier wakes the user and everyone sharing a room with them.
// Activity that doesn't change what clients see (a /sync while already
// online and active) stays in memory and costs no write.
//
// Timers: one pending delayed message per user, due at the user's next
// deadline (idle, end of currently_active, sync timeout). A later deadline
// never replaces an earlier pending one: the earlier one fires, re-evaluates
// and schedules the next. Messages for a replaced deadline are ignored.
#include "actors/streams/presence_writer.hpp"

#include "storage/stores/presence_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/rooms_store.hpp"

#include <algorithm>
#include <unordered_map>

namespace axon::actors {

namespace {

// ---- constants ---------------------------------------------------------------

const std::string online = "online";
const std::string unavailable = "unavailable";
const std::string offline = "offline";

using presence_timer_atom = caf::atom_constant<caf::atom("ptimer")>;

// ---- state -------------------------------------------------------------------

struct user_presence {
  storage::presence_row row; ///< current state (persisted when announced)
  int64_t syncing_until = 0; ///< a /sync of the user may run until then
  int64_t timer_at = 0;      ///< the pending timer's deadline; 0: none
  /// Another server's user (msg::set_presence.remote): offline at
  /// remote_until unless its server says more.
  bool remote = false;
  int64_t remote_until = 0;
};

/// Synapse's FEDERATION_TIMEOUT.
constexpr int64_t remote_timeout_ms = 30LL * 60 * 1000;

struct presence_writer_state {
  presence_writer_deps deps;
  std::unique_ptr<storage::presence_store> store;
  std::unique_ptr<storage::rooms_store> rooms;
  std::unordered_map<std::string, user_presence> users; ///< every user not offline
  int64_t pos = 0;
  static inline const char* name = "presence_writer";
};

using writer_pointer = caf::stateful_actor<presence_writer_state>*;

// ---- helpers (pure) ------------------------------------------------------------

int64_t ms(std::chrono::milliseconds d) { return d.count(); }

bool valid_presence(const std::string& p) { return p == online || p == unavailable || p == offline; }

/// synapse should_notify: whether clients hear about the change.
bool should_notify(const storage::presence_row& prev, const storage::presence_row& next,
                   const presence_timeouts& t) {
  if (prev.state != next.state || prev.status_msg != next.status_msg) return true;
  bool bumped = next.last_active_ts - prev.last_active_ts > ms(t.last_active_granularity);
  if (prev.state == online) {
    if (prev.currently_active != next.currently_active) return true;
    // Only announce last-active bumps of users not currently active.
    return bumped && !next.currently_active;
  }
  return bumped;
}

/// synapse handle_timeout: idle online users become unavailable; users
/// neither syncing nor active for the sync timeout become offline.
storage::presence_row timed_out(const user_presence& u, int64_t now, const presence_timeouts& t) {
  auto r = u.row;
  if (r.state == offline) return r;
  if (u.remote) {
    if (now >= u.remote_until) r.state = offline;
    return r;
  }
  if (r.state == online && now - r.last_active_ts >= ms(t.idle)) r.state = unavailable;
  auto seen = std::max({u.syncing_until, r.last_user_sync_ts, r.last_active_ts});
  if (now - seen >= ms(t.sync_online)) r.state = offline;
  return r;
}

/// When `timed_out` or `currently_active` may next change; 0 for never.
int64_t next_deadline(const user_presence& u, const presence_timeouts& t) {
  auto& r = u.row;
  if (r.state == offline) return 0;
  if (u.remote) return u.remote_until;
  auto d = std::max({u.syncing_until, r.last_user_sync_ts, r.last_active_ts}) + ms(t.sync_online);
  if (r.state == online) {
    d = std::min(d, r.last_active_ts + ms(t.idle));
    if (r.currently_active) d = std::min(d, r.last_active_ts + ms(t.last_active_granularity));
  }
  return d;
}

// ---- helpers (actor) -------------------------------------------------------------

int64_t now_ms(writer_pointer self) {
  if (self->state.deps.now) return self->state.deps.now();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// The user's in-memory entry, loaded from the store on first use.
user_presence& entry(writer_pointer self, const std::string& user_id) {
  auto& st = self->state;
  auto i = st.users.find(user_id);
  if (i != st.users.end()) return i->second;
  user_presence u;
  if (auto r = st.store->get(user_id)) u.row = std::move(*r);
  else u.row.user_id = user_id;
  return st.users.emplace(user_id, std::move(u)).first->second;
}

void schedule(writer_pointer self, const std::string& user_id, user_presence& u, int64_t now) {
  auto d = next_deadline(u, self->state.deps.timeouts);
  if (d == 0 || (u.timer_at != 0 && u.timer_at <= d)) return;
  u.timer_at = d;
  self->delayed_send(self, std::chrono::milliseconds(std::max<int64_t>(0, d - now)),
                     presence_timer_atom::value, user_id, d);
}

/// synapse handle_update: applies `next` as the user's state, persisting and
/// publishing it when clients should hear of it. Returns the stream position
/// readers need to see the user's state. Throws on database errors, with
/// nothing changed.
int64_t update(writer_pointer self, const std::string& user_id, storage::presence_row next,
               int64_t now) {
  auto& st = self->state;
  auto& t = st.deps.timeouts;
  auto& u = entry(self, user_id);
  if (!u.remote)
    next.currently_active =
      next.state == online && now - next.last_active_ts < ms(t.last_active_granularity);
  if (should_notify(u.row, next, t)) {
    auto pos = st.pos + 1;
    std::vector<msg::stream_row> rows{{pos, "", {user_id}}};
    if (u.remote) {
      // Another server's user: the rooms' state says where they are.
      for (auto& room : storage::e2e_keys_store(*st.deps.pool).joined_rooms(user_id)) rows.push_back({pos, room, {}});
    } else {
      for (auto& m : st.rooms->memberships(user_id))
        if (m.membership == "join") rows.push_back({pos, m.room_id, {}});
    }
    next.stream_id = pos;
    st.store->put(next);
    st.pos = pos;
    caf::anon_send(st.deps.publisher,
                   msg::stream_advanced{static_cast<uint8_t>(stream_id::presence),
                                        st.deps.instance_name, pos, std::move(rows)});
  } else {
    next.stream_id = u.row.stream_id;
  }
  u.row = std::move(next);
  if (u.row.state == offline && u.syncing_until <= now) st.users.erase(user_id);
  else schedule(self, user_id, u, now);
  return st.pos;
}

caf::error db_failure(const std::exception& e) {
  return make_error(errc::unknown, std::string("could not store presence: ") + e.what());
}

// ---- behavior ------------------------------------------------------------------

caf::behavior presence_writer(writer_pointer self, presence_writer_deps deps, int64_t start_pos) {
  auto& st = self->state;
  st.store = std::make_unique<storage::presence_store>(*deps.pool);
  st.rooms = std::make_unique<storage::rooms_store>(*deps.pool);
  st.deps = std::move(deps);
  st.pos = start_pos;
  // Users left online or unavailable by the previous run: their timers
  // start again (they go offline unless they sync).
  auto now = now_ms(self);
  for (auto& r : st.store->not_offline()) {
    auto id = r.user_id;
    auto& u = st.users[id];
    u.row = std::move(r);
    schedule(self, id, u, now);
  }
  return {
    [=](msg::set_presence& req) -> caf::result<int64_t> {
      if (!valid_presence(req.presence))
        return make_error(errc::invalid_param, "Invalid presence state: " + req.presence);
      try {
        auto now = now_ms(self);
        auto& u = entry(self, req.user_id);
        auto next = u.row;
        next.state = req.presence;
        next.status_msg = req.status_msg;
        if (req.remote) {
          u.remote = true;
          u.remote_until = now + remote_timeout_ms;
          u.timer_at = 0; // the deadline moved: a new timer
          next.last_active_ts = now - std::max<int64_t>(0, req.last_active_ago);
          next.currently_active = req.currently_active;
        } else if (req.presence == online) {
          next.last_active_ts = now;
        }
        return update(self, req.user_id, std::move(next), now);
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](msg::user_syncing& req) -> caf::result<int64_t> {
      if (req.presence != online && req.presence != unavailable)
        return make_error(errc::invalid_param, "A sync sets presence online or unavailable");
      try {
        auto now = now_ms(self);
        auto& u = entry(self, req.user_id);
        auto next = u.row;
        // The status message stays (synapse set_state with is_sync).
        next.state = req.presence;
        next.last_user_sync_ts = now;
        if (req.presence == online) next.last_active_ts = now;
        auto until = now + std::max<int64_t>(0, req.timeout_ms);
        auto prev_until = u.syncing_until;
        u.syncing_until = std::max(u.syncing_until, until);
        try {
          return update(self, req.user_id, std::move(next), now);
        } catch (...) {
          u.syncing_until = prev_until;
          throw;
        }
      } catch (const std::exception& e) {
        return db_failure(e);
      }
    },
    [=](presence_timer_atom, const std::string& user_id, int64_t at) {
      auto i = self->state.users.find(user_id);
      if (i == self->state.users.end() || i->second.timer_at != at) return; // replaced
      auto& u = i->second;
      u.timer_at = 0;
      auto now = now_ms(self);
      try {
        update(self, user_id, timed_out(u, now, self->state.deps.timeouts), now);
      } catch (const std::exception&) {
        // The database is unavailable: try again at the next granularity.
        u.timer_at = now + ms(self->state.deps.timeouts.last_active_granularity);
        self->delayed_send(self, self->state.deps.timeouts.last_active_granularity,
                           presence_timer_atom::value, user_id, u.timer_at);
      }
    },
  };
}

} // namespace

presence_writer_actor spawn_presence_writer(caf::actor_system& sys, presence_writer_deps deps,
                                            int64_t start_pos) {
  caf::actor a = deps.detached
                   ? sys.spawn<caf::detached>(presence_writer, std::move(deps), start_pos)
                   : sys.spawn(presence_writer, std::move(deps), start_pos);
  return caf::actor_cast<presence_writer_actor>(a);
}

} // namespace axon::actors
