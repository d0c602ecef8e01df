// actors/notifier/notifier.cpp
//
// Waiters register with the positions their client has seen. A short history
// of recent rows closes the race between "the handler found nothing new" and
// "the waiter is registered": rows that arrived in between are checked on
// registration; a waiter older than the history wakes at once.
//
// Several events writers: each reports how far it has persisted; the events
// position readers may expose is the lowest of them (a writer with nothing
// to do claims the others' positions, actors/events/events_writer.cpp). Rows
// above that position are held back and released, waking their waiters,
// once every writer has passed them.
//
// A writer that is down would hold that position back until it returns, and
// with it every other writer's rooms. So when rows have waited
// `stall_timeout` without the position moving, the notifier asks the
// liveness checker (writer_liveness.hpp) about the writers below them. One
// that is not running (no connection to the database, so nothing in flight:
// its last transaction committed or rolled back) is left out of the lowest
// position, and every waiter looks in the database once, for the rows it
// stored but never published.
// While a writer is down, moving the position further first asks again,
// and takes only what the positions reported before that question allow.
// A writer that started again by then is seen running and counts again,
// at the position it recorded; and if it starts after the question, it
// takes its positions from the sequence after everything reported before
// the question. Either way no position is exposed below an event it will
// store.
#include "actors/notifier/notifier.hpp"

#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace axon::actors {

namespace {

// ---- constants ---------------------------------------------------------------

/// Rows kept for late registrations.
constexpr size_t history_rows = 8192;

/// How long rows may wait for an events writer before the notifier asks
/// whether it is running. A running writer claims other writers' positions
/// as soon as it hears of them, so this is far beyond a healthy wait.
constexpr auto stall_timeout = std::chrono::seconds(2);

/// How long a liveness check may take.
constexpr auto check_timeout = std::chrono::seconds(10);

// ---- state -------------------------------------------------------------------

/// Whom a row of any stream concerns.
struct entry {
  size_t stream;
  int64_t pos;
  std::string room_id;
  std::vector<std::string> users;
};

struct waiter {
  std::string user_id;
  std::unordered_set<std::string> rooms;
  caf::typed_response_promise<std::vector<int64_t>> rp;
};

struct notifier_state {
  std::vector<int64_t> pos;            ///< per stream, token order
  std::vector<int64_t> history_floor;  ///< per stream: history covers (floor, pos]
  std::shared_ptr<stream_positions> published;
  std::deque<entry> history;
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, waiter> waiters;
  /// room id -> waiters interested in it; user id -> waiters of that user.
  std::unordered_map<std::string, std::unordered_set<uint64_t>> by_room, by_user;
  /// Requests waiting for a stream to reach a position: (stream, pos).
  std::multimap<std::pair<size_t, int64_t>, caf::typed_response_promise<int64_t>> position_waiters;
  /// Several events writers: each one's position, and rows above the lowest.
  std::map<std::string, int64_t> writer_pos;
  std::multimap<int64_t, entry> held;
  /// Writers found down: left out of the lowest position until they run.
  std::set<std::string> down;
  writer_liveness_actor liveness; ///< null: writers are never checked
  bool checking = false;          ///< a liveness check is in flight
  bool stall_timer = false;       ///< a stall_atom is on its way
  static inline const char* name = "notifier";
};

using notifier_self = caf::stateful_actor<notifier_state>*;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using stall_atom = caf::atom_constant<caf::atom("stall")>;

// ---- helpers -------------------------------------------------------------------

bool concerns(const waiter& w, const entry& e) {
  if (!e.room_id.empty() && w.rooms.count(e.room_id)) return true;
  for (auto& u : e.users)
    if (u == w.user_id) return true;
  return false;
}

void wake(notifier_state& st, uint64_t id) {
  auto i = st.waiters.find(id);
  if (i == st.waiters.end()) return;
  i->second.rp.deliver(st.pos);
  for (auto& r : i->second.rooms) {
    auto j = st.by_room.find(r);
    if (j != st.by_room.end() && (j->second.erase(id), j->second.empty())) st.by_room.erase(j);
  }
  auto u = st.by_user.find(i->second.user_id);
  if (u != st.by_user.end() && (u->second.erase(id), u->second.empty())) st.by_user.erase(u);
  st.waiters.erase(i);
}

/// Answers everyone waiting for a position of `stream` it has reached.
void answer_position_waiters(notifier_state& st, size_t stream) {
  auto now = st.pos[stream];
  for (auto i = st.position_waiters.lower_bound({stream, INT64_MIN});
       i != st.position_waiters.end() && i->first.first == stream && i->first.second <= now;) {
    i->second.deliver(now);
    i = st.position_waiters.erase(i);
  }
}

/// Records rows of `stream` up to `pos` and wakes whoever they concern.
void advance(notifier_state& st, size_t stream, int64_t pos, std::vector<entry> rows) {
  std::unordered_set<uint64_t> to_wake;
  for (auto& e : rows) {
    if (!e.room_id.empty())
      if (auto i = st.by_room.find(e.room_id); i != st.by_room.end())
        to_wake.insert(i->second.begin(), i->second.end());
    for (auto& u : e.users)
      if (auto i = st.by_user.find(u); i != st.by_user.end())
        to_wake.insert(i->second.begin(), i->second.end());
    st.history.push_back(std::move(e));
    if (st.history.size() > history_rows) {
      auto& old = st.history.front();
      st.history_floor[old.stream] = std::max(st.history_floor[old.stream], old.pos);
      st.history.pop_front();
    }
  }
  if (pos > st.pos[stream]) {
    st.pos[stream] = pos;
    st.published->at[stream].store(pos);
  }
  for (auto id : to_wake) wake(st, id);
  answer_position_waiters(st, stream);
}

/// The stream is durable up to `pos` but its rows are unknown here: expose
/// the position, and wake every waiter (they look in the database) and
/// everyone waiting for the position. Later rows at or below `pos` still
/// wake whoever they concern.
void catch_up(notifier_state& st, size_t stream, int64_t pos) {
  if (pos <= st.pos[stream]) return;
  st.pos[stream] = pos;
  st.history_floor[stream] = std::max(st.history_floor[stream], pos);
  st.published->at[stream].store(pos);
  std::vector<uint64_t> all;
  all.reserve(st.waiters.size());
  for (auto& [id, w] : st.waiters) all.push_back(id);
  for (auto id : all) wake(st, id);
  answer_position_waiters(st, stream);
}

/// The lowest of `positions` over the writers not in `skip` (INT64_MAX
/// when every writer is skipped).
int64_t lowest(const std::map<std::string, int64_t>& positions, const std::set<std::string>& skip) {
  auto low = INT64_MAX;
  for (auto& [w, p] : positions)
    if (!skip.count(w)) low = std::min(low, p);
  return low;
}

/// Exposes `low` (if above the position) with the held rows up to it, and
/// `ready`, rows already below the position.
void expose(notifier_state& st, int64_t low, std::vector<entry>& ready) {
  auto events = index(stream_id::events);
  if (low == INT64_MAX || low < st.pos[events]) low = st.pos[events];
  auto end = st.held.upper_bound(low);
  for (auto i = st.held.begin(); i != end; ++i) ready.push_back(std::move(i->second));
  st.held.erase(st.held.begin(), end);
  if (!ready.empty() || low > st.pos[events]) advance(st, events, low, std::move(ready));
  ready.clear();
}

void release(notifier_self self, std::vector<entry>& ready);

/// Rows are held: unless the position moves within stall_timeout, the
/// writers below them are checked (see the top).
void watch_stall(notifier_self self) {
  auto& st = self->state;
  if (st.stall_timer || st.held.empty() || !st.liveness) return;
  st.stall_timer = true;
  self->delayed_send(self, stall_timeout, stall_atom::value, st.pos[index(stream_id::events)]);
}

/// Asks the liveness checker about the writers down and `suspects`, then
/// exposes what the positions known now allow (see the top).
void check_writers(notifier_self self, const std::set<std::string>& suspects) {
  auto& st = self->state;
  if (st.checking || !st.liveness) return;
  std::set<std::string> ask = st.down;
  ask.insert(suspects.begin(), suspects.end());
  if (ask.empty()) return;
  st.checking = true;
  std::vector<std::string> writers(ask.begin(), ask.end());
  auto known = st.writer_pos; // reported before the check runs
  self->request(st.liveness, check_timeout, msg::check_events_writers{writers})
    .then(
      [=](msg::events_writers_status& status) mutable {
        auto& st = self->state;
        st.checking = false;
        std::set<std::string> running(status.running.begin(), status.running.end());
        bool newly_down = false;
        for (size_t i = 0; i < writers.size(); ++i) {
          auto& w = writers[i];
          if (running.count(w)) {
            st.down.erase(w);
            auto recorded = i < status.recorded.size() ? status.recorded[i] : 0;
            st.writer_pos[w] = std::max(st.writer_pos[w], recorded);
            known[w] = std::max(known[w], recorded);
          } else if (st.down.insert(w).second) {
            newly_down = true;
          }
        }
        auto events = index(stream_id::events);
        auto low = lowest(known, st.down);
        std::vector<entry> ready;
        if (newly_down && low != INT64_MAX && low > st.pos[events]) {
          // The writer's last rows may never have been published: every
          // waiter looks in the database.
          catch_up(st, events, low);
          expose(st, low, ready); // the held rows up to it, into the history
        } else {
          expose(st, low, ready);
        }
        release(self, ready); // rows that came during the check
      },
      [=](caf::error&) {
        // The database is unreachable: nothing changes; the stall timer
        // asks again.
        self->state.checking = false;
        watch_stall(self);
      });
}

/// Several events writers: exposes the lowest running writer's position
/// with the held rows up to it (and `ready`, rows already below it). Past a
/// writer that is down only after checking again (see the top).
void release(notifier_self self, std::vector<entry>& ready) {
  auto& st = self->state;
  auto events = index(stream_id::events);
  auto low = lowest(st.writer_pos, st.down);
  if (!st.down.empty() && low != INT64_MAX && low > st.pos[events]) {
    if (!ready.empty()) advance(st, events, st.pos[events], std::move(ready));
    check_writers(self, {});
  } else {
    expose(st, low, ready);
  }
  watch_stall(self);
}

/// True when something past `since` already concerns the waiter.
bool ready_now(const notifier_state& st, const waiter& w, const std::vector<int64_t>& since) {
  for (size_t s = 0; s < stream_count; ++s)
    if (s < since.size() && since[s] < st.pos[s] && since[s] < st.history_floor[s]) return true;
  for (auto it = st.history.rbegin(); it != st.history.rend(); ++it)
    if (it->stream < since.size() && it->pos > since[it->stream] && concerns(w, *it)) return true;
  return false;
}

// ---- behavior ------------------------------------------------------------------

caf::behavior notifier(notifier_self self, std::vector<int64_t> start,
                       std::shared_ptr<stream_positions> positions,
                       std::map<std::string, int64_t> events_writers,
                       writer_liveness_actor liveness) {
  auto& st = self->state;
  st.writer_pos = std::move(events_writers);
  st.liveness = std::move(liveness);
  start.resize(stream_count, 0);
  st.pos = start;
  st.history_floor = start;
  for (size_t s = 0; s < stream_count; ++s) positions->at[s].store(start[s]);
  st.published = std::move(positions);
  return {
    [=](msg::events_advanced& adv) {
      auto& st = self->state;
      std::vector<entry> rows;
      rows.reserve(adv.rows.size());
      for (auto& r : adv.rows) {
        entry e{index(stream_id::events), r.pos, r.room_id, {}};
        // A membership change concerns its target even before they are in
        // the room (invites).
        if (r.type == "m.room.member") e.users.push_back(r.state_key);
        rows.push_back(std::move(e));
      }
      if (st.writer_pos.empty()) {
        advance(st, index(stream_id::events), adv.pos, std::move(rows));
        return;
      }
      auto& w = st.writer_pos[adv.instance];
      w = std::max(w, adv.pos);
      st.down.erase(adv.instance); // it runs (see the top)
      auto now = st.pos[index(stream_id::events)];
      std::vector<entry> ready;
      for (auto& e : rows) {
        if (e.pos <= now) ready.push_back(std::move(e)); // late: below what is exposed
        else st.held.emplace(e.pos, std::move(e));
      }
      release(self, ready);
    },
    [=](msg::stream_advanced& adv) {
      if (adv.stream >= stream_count) return;
      std::vector<entry> rows;
      rows.reserve(adv.rows.size());
      for (auto& r : adv.rows)
        rows.push_back({adv.stream, r.pos, std::move(r.room_id), std::move(r.user_ids)});
      advance(self->state, adv.stream, adv.pos, std::move(rows));
    },
    [=](msg::wait_for_updates& req) -> caf::typed_response_promise<std::vector<int64_t>> {
      auto& st = self->state;
      auto rp = self->make_response_promise<std::vector<int64_t>>();
      waiter w{req.user_id, {req.room_ids.begin(), req.room_ids.end()}, rp};
      if (req.timeout_ms <= 0 || ready_now(st, w, req.since)) {
        rp.deliver(st.pos);
        return rp;
      }
      auto id = st.next_id++;
      for (auto& r : w.rooms) st.by_room[r].insert(id);
      st.by_user[w.user_id].insert(id);
      st.waiters.emplace(id, std::move(w));
      self->delayed_send(self, std::chrono::milliseconds(req.timeout_ms), timeout_atom::value, id);
      return rp;
    },
    [=](msg::stream_caught_up& req) {
      auto& st = self->state;
      if (req.stream >= stream_count) return;
      if (req.stream == index(stream_id::events) && !st.writer_pos.empty()) {
        // One writer reached `pos`, or (no instance) someone exposed it:
        // every writer is at least there.
        for (auto& [w, p] : st.writer_pos)
          if (req.instance.empty() || w == req.instance) p = std::max(p, req.pos);
        if (!req.instance.empty()) {
          auto& w = st.writer_pos[req.instance];
          w = std::max(w, req.pos);
          st.down.erase(req.instance); // it runs (see the top)
        }
        catch_up(st, req.stream, lowest(st.writer_pos, {}));
        std::vector<entry> none;
        release(self, none);
        return;
      }
      catch_up(st, req.stream, req.pos);
    },
    [=](timeout_atom, uint64_t id) { wake(self->state, id); },
    [=](stall_atom, int64_t mark) {
      auto& st = self->state;
      st.stall_timer = false;
      if (st.held.empty()) return;
      if (st.pos[index(stream_id::events)] == mark) {
        // Who holds back the oldest held row?
        auto first = st.held.begin()->first;
        std::set<std::string> suspects;
        for (auto& [w, p] : st.writer_pos)
          if (!st.down.count(w) && p < first) suspects.insert(w);
        check_writers(self, suspects);
      }
      watch_stall(self);
    },
    [=](msg::await_stream_position& req) -> caf::typed_response_promise<int64_t> {
      auto& st = self->state;
      auto rp = self->make_response_promise<int64_t>();
      if (req.stream >= stream_count || req.pos <= st.pos[req.stream]) rp.deliver(req.pos);
      else st.position_waiters.emplace(std::make_pair(size_t{req.stream}, req.pos), rp);
      return rp;
    },
    [=](caf::get_atom) { return self->state.pos; },
  };
}

} // namespace

notifier_actor spawn_notifier(caf::actor_system& sys, std::vector<int64_t> start,
                              std::shared_ptr<stream_positions> positions,
                              std::map<std::string, int64_t> events_writers,
                              writer_liveness_actor liveness) {
  return caf::actor_cast<notifier_actor>(sys.spawn(notifier, std::move(start), std::move(positions),
                                                   std::move(events_writers), std::move(liveness)));
}

} // namespace axon::actors
