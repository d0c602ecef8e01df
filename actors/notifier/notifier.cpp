// actors/notifier/notifier.cpp
//
// Waiters register with the positions their client has seen. A short history
// of recent rows closes the race between "the handler found nothing new" and
// "the waiter is registered": rows that arrived in between are checked on
// registration; a waiter older than the history wakes at once.
//
// Rows from other instances arrive on the pub/sub thread, and this
// instance's events writers tell the notifier directly. Handing each row to
// this actor would wake another thread per row (and a sender's
// read-your-writes wait would need a round trip to it); so those threads
// apply rows themselves (the shortcut, spawn_notifier) under the lock every
// handler holds, waking the long-polls that wait with a callback, and send
// only the rows that answer a response promise (a position wait, a blocking
// long-poll), which are the actor's to deliver. Everything here only moves forward
// (positions are maxima, rows wake whoever they concern whenever they
// come), so the order between the two paths does not matter.
//
// Several events writers: each reports how far it has persisted
// (events_advanced.pos: everything it will still write comes from the
// shared sequence after it). Each writer's events are exposed up to its own
// position at once, in the positions entry of that writer (messages/
// streams.hpp): a room has one writer, so a reader never waits for another
// writer's progress. The events entry is the lowest writer's position (a
// writer with nothing to do claims the others' positions, actors/events/
// events_writer.cpp); readers that look at events of every room at once
// (device lists, unread counts) read up to it.
//
// A writer that is down would hold that lowest position back until it
// returns. So when it has lagged the highest writer `stall_timeout`
// without moving, the notifier asks the liveness checker (writer_liveness.hpp)
// about the writers below. One that is not running (no connection to the
// database, so nothing in flight: its last transaction committed or rolled
// back) is exposed up to the position it recorded (with its events, in the
// same transaction) and left out of the lowest position; every waiter looks
// in the database once, for the rows it stored but never published.
// While a writer is down, moving the lowest position further first asks
// again, and takes only what the positions reported before that question
// allow. A writer that started again by then is seen running and counts
// again, at the position it recorded; and if it starts after the question,
// it takes its positions from the sequence after everything reported before
// the question. Either way no position is exposed below an event it will
// store.
#include "actors/notifier/notifier.hpp"

#include <caf/actor_clock.hpp>

#include <deque>
#include <atomic>
#include <mutex>
#include <map>
#include <optional>
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
  int writer = -1; ///< events with several writers: the writer's index
};

/// A /sync waiting: answered through its response promise (a request from
/// an actor) or by running `done` (notifier_waits: a listener's long-poll,
/// which has no actor; `since` is its answer when the notifier stops).
using deadline_map = std::multimap<caf::actor_clock::time_point, uint64_t>;

struct waiter {
  std::string user_id;
  std::unordered_set<std::string> rooms;
  caf::typed_response_promise<std::vector<int64_t>> rp;
  std::function<void(std::vector<int64_t>)> done;
  std::vector<int64_t> since;
  deadline_map::iterator deadline; ///< its entry in notifier_state::deadlines
};

struct notifier_state {
  std::vector<int64_t> pos;            ///< per stream and events writer, token order
  std::vector<int64_t> history_floor;  ///< the same: history covers (floor, pos]
  std::shared_ptr<stream_positions> published;
  std::deque<entry> history;
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, waiter> waiters;
  /// room id -> waiters interested in it; user id -> waiters of that user.
  std::unordered_map<std::string, std::unordered_set<uint64_t>> by_room, by_user;
  /// Each waiter's timeout, earliest first. One tick message comes at the
  /// earliest (not one delayed message per waiter: those stay queued in the
  /// clock until their time even when the waiter was answered long before,
  /// and keep the memory of thousands of ended long-polls pinned).
  deadline_map deadlines;
  /// When the earliest tick on its way comes (max: none).
  caf::actor_clock::time_point next_tick = caf::actor_clock::time_point::max();
  /// Requests waiting for a positions entry to reach a position: (entry, pos).
  std::multimap<std::pair<size_t, int64_t>, caf::typed_response_promise<int64_t>> position_waiters;
  /// Several events writers: their names in order (entry writer_slot(i)),
  /// and each one's position.
  std::vector<std::string> writers;
  std::map<std::string, int64_t> writer_pos;
  /// Writers found down: left out of the lowest position until they run.
  std::set<std::string> down;
  writer_liveness_actor liveness; ///< null: writers are never checked
  bool checking = false;          ///< a liveness check is in flight
  bool stall_timer = false;       ///< a stall_atom is on its way
};

/// The state, shared with the pub/sub thread's shortcut (see the top):
/// every use holds `mu`.
struct notifier_core {
  std::mutex mu;
  notifier_state st;
  bool stopped = false; ///< the actor is gone: waits are answered at once
  /// Catch-ups the shortcut sent that the actor has not handled yet.
  std::atomic<int> pending{0};
};

struct notifier_actor_state {
  std::shared_ptr<notifier_core> core;
  static inline const char* name = "notifier";
};

using notifier_self = caf::stateful_actor<notifier_actor_state>*;
notifier_state& state_of(notifier_self self) { return self->state.core->st; }
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using stall_atom = caf::atom_constant<caf::atom("stall")>;

// ---- helpers -------------------------------------------------------------------

bool concerns(const waiter& w, const entry& e) {
  if (!e.room_id.empty() && w.rooms.count(e.room_id)) return true;
  for (auto& u : e.users)
    if (u == w.user_id) return true;
  return false;
}

/// The positions entry a row belongs to.
size_t slot_of(const entry& e) {
  return e.writer >= 0 ? writer_slot(static_cast<size_t>(e.writer)) : e.stream;
}

/// Where `since` stands for positions entry `slot` (a writer's entry is
/// never below the lowest writer's).
int64_t since_at(const std::vector<int64_t>& since, size_t slot) {
  if (slot >= stream_count) return events_bound(since, static_cast<int>(slot - stream_count));
  return slot < since.size() ? since[slot] : 0;
}

/// Forgets waiter `id` (woken, timed out or cancelled).
void forget(notifier_state& st, std::unordered_map<uint64_t, waiter>::iterator i) {
  auto id = i->first;
  for (auto& r : i->second.rooms) {
    auto j = st.by_room.find(r);
    if (j != st.by_room.end() && (j->second.erase(id), j->second.empty())) st.by_room.erase(j);
  }
  auto u = st.by_user.find(i->second.user_id);
  if (u != st.by_user.end() && (u->second.erase(id), u->second.empty())) st.by_user.erase(u);
  st.deadlines.erase(i->second.deadline);
  st.waiters.erase(i);
}

void wake(notifier_state& st, uint64_t id) {
  auto i = st.waiters.find(id);
  if (i == st.waiters.end()) return;
  if (i->second.done) i->second.done(st.pos);
  else i->second.rp.deliver(st.pos);
  forget(st, i);
}

void wake_all(notifier_state& st) {
  std::vector<uint64_t> all;
  all.reserve(st.waiters.size());
  for (auto& [id, w] : st.waiters) all.push_back(id);
  for (auto id : all) wake(st, id);
}

/// Answers everyone waiting for a position of entry `slot` it has reached.
void answer_position_waiters(notifier_state& st, size_t slot) {
  auto now = st.pos[slot];
  for (auto i = st.position_waiters.lower_bound({slot, INT64_MIN});
       i != st.position_waiters.end() && i->first.first == slot && i->first.second <= now;) {
    i->second.deliver(now);
    i = st.position_waiters.erase(i);
  }
}

/// Moves entry `slot` to `pos` (never back) for request threads and waiters.
/// Writers' entries follow the lowest position up (a writer below it is
/// down, and stored nothing above its recorded position).
void set_position(notifier_state& st, size_t slot, int64_t pos) {
  if (pos <= st.pos[slot]) return;
  st.pos[slot] = pos;
  st.published->at[slot].store(pos);
  answer_position_waiters(st, slot);
  if (slot == index(stream_id::events))
    for (size_t w = stream_count; w < st.pos.size(); ++w) set_position(st, w, pos);
}

/// Records rows of entry `slot` up to `pos` and wakes whoever they concern.
void advance(notifier_state& st, size_t slot, int64_t pos, std::vector<entry> rows,
             const std::function<void()>* visible = nullptr) {
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
      auto& floor = st.history_floor[slot_of(old)];
      floor = std::max(floor, old.pos);
      st.history.pop_front();
    }
  }
  // Positions first: whoever wakes reads them. Then the writes waiting to
  // be seen (the sender's own answer), before thousands of long-polls
  // queue for the request threads.
  st.pos[slot] = std::max(st.pos[slot], pos);
  st.published->at[slot].store(st.pos[slot]);
  answer_position_waiters(st, slot);
  if (visible) (*visible)();
  for (auto id : to_wake) wake(st, id);
}

/// Entry `slot` is durable up to `pos` but its rows are unknown here: expose
/// the position, and wake every waiter (they look in the database) and
/// everyone waiting for the position. Later rows at or below `pos` still
/// wake whoever they concern.
void catch_up(notifier_state& st, size_t slot, int64_t pos) {
  if (pos <= st.pos[slot]) return;
  st.history_floor[slot] = std::max(st.history_floor[slot], pos);
  st.pos[slot] = pos;
  st.published->at[slot].store(pos);
  wake_all(st);
  answer_position_waiters(st, slot);
}

/// The index of events writer `name` (-1: not one).
int writer_index(const notifier_state& st, const std::string& name) {
  for (size_t i = 0; i < st.writers.size(); ++i)
    if (st.writers[i] == name) return static_cast<int>(i);
  return -1;
}

/// Writer `name` has persisted up to `pos`; `rows` are its events up to it.
void writer_advanced(notifier_state& st, const std::string& name, int64_t pos,
                     std::vector<entry> rows) {
  auto& w = st.writer_pos[name];
  w = std::max(w, pos);
  auto i = writer_index(st, name);
  if (i < 0) {
    // Not a writer of ours (another configuration): its rows still wake.
    advance(st, index(stream_id::events), st.pos[index(stream_id::events)], std::move(rows));
    return;
  }
  for (auto& e : rows) e.writer = i;
  advance(st, writer_slot(static_cast<size_t>(i)), w, std::move(rows));
}

/// Writer `name` is durable up to `pos`, its rows unknown here (see catch_up).
void writer_caught_up(notifier_state& st, const std::string& name, int64_t pos) {
  auto& w = st.writer_pos[name];
  w = std::max(w, pos);
  auto i = writer_index(st, name);
  if (i >= 0) catch_up(st, writer_slot(static_cast<size_t>(i)), w);
}

/// The lowest of `positions` over the writers not in `skip` (INT64_MAX
/// when every writer is skipped).
int64_t lowest(const std::map<std::string, int64_t>& positions, const std::set<std::string>& skip) {
  auto low = INT64_MAX;
  for (auto& [w, p] : positions)
    if (!skip.count(w)) low = std::min(low, p);
  return low;
}

/// The highest writer position.
int64_t highest(const std::map<std::string, int64_t>& positions) {
  auto high = INT64_MIN;
  for (auto& [w, p] : positions) high = std::max(high, p);
  return high;
}

void release(notifier_self self);

/// The lowest position lags a writer: unless it moves within stall_timeout,
/// the writers below are checked (see the top).
void watch_stall(notifier_self self) {
  auto& st = state_of(self);
  auto events = index(stream_id::events);
  if (st.stall_timer || !st.liveness || highest(st.writer_pos) <= st.pos[events]) return;
  st.stall_timer = true;
  self->delayed_send(self, stall_timeout, stall_atom::value, st.pos[events]);
}

/// Asks the liveness checker about the writers down and `suspects`, then
/// exposes what the positions known now allow (see the top).
void check_writers(notifier_self self, const std::set<std::string>& suspects) {
  auto& st = state_of(self);
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
        std::lock_guard<std::mutex> lock(self->state.core->mu);
        auto& st = state_of(self);
        st.checking = false;
        std::set<std::string> running(status.running.begin(), status.running.end());
        for (size_t i = 0; i < writers.size(); ++i) {
          auto& w = writers[i];
          auto recorded = i < status.recorded.size() ? status.recorded[i] : 0;
          known[w] = std::max(known[w], recorded);
          if (running.count(w)) {
            st.down.erase(w);
            // Rows up to what it recorded may have been lost on the way
            // (found by the simulation): look in the database.
            writer_caught_up(st, w, recorded);
          } else {
            st.down.insert(w);
            // Its last rows may never have been published: its position is
            // what it recorded with them, and every waiter looks in the
            // database.
            writer_caught_up(st, w, recorded);
          }
        }
        auto events = index(stream_id::events);
        auto low = lowest(known, st.down);
        if (low != INT64_MAX) set_position(st, events, low);
        watch_stall(self);
      },
      [=](caf::error&) {
        // The database is unreachable: nothing changes; the stall timer
        // asks again.
        std::lock_guard<std::mutex> lock(self->state.core->mu);
        state_of(self).checking = false;
        watch_stall(self);
      });
}

/// Several events writers: moves the lowest position to the lowest running
/// writer's. Past a writer that is down only after checking again (see the
/// top).
void release(notifier_self self) {
  auto& st = state_of(self);
  auto events = index(stream_id::events);
  auto low = lowest(st.writer_pos, st.down);
  if (low != INT64_MAX && low > st.pos[events]) {
    if (!st.down.empty()) check_writers(self, {});
    else set_position(st, events, low);
  }
  watch_stall(self);
}

/// True when something past `since` already concerns the waiter.
bool ready_now(const notifier_state& st, const waiter& w, const std::vector<int64_t>& since) {
  for (size_t s = 0; s < st.pos.size(); ++s) {
    auto seen = since_at(since, s);
    if (seen < st.pos[s] && seen < st.history_floor[s]) return true;
  }
  for (auto it = st.history.rbegin(); it != st.history.rend(); ++it)
    if (it->pos > since_at(since, slot_of(*it)) && concerns(w, *it)) return true;
  return false;
}

/// Registers `w` (moved from) unless something past `req.since` concerns
/// it already (or it does not wait): returns its id, or 0 when it must be
/// answered now (`w` left as it was). Its timeout counts from `now`; when
/// it is earlier than every tick on its way, `tick_in` says when one must
/// come (send tick_atom then).
uint64_t add_waiter(notifier_state& st, waiter& w, const msg::wait_for_updates& req,
                    caf::actor_clock::time_point now, std::optional<caf::timespan>& tick_in) {
  if (req.timeout_ms <= 0 || ready_now(st, w, req.since)) return 0;
  auto id = ++st.next_id;
  for (auto& r : w.rooms) st.by_room[r].insert(id);
  st.by_user[w.user_id].insert(id);
  auto at = now + std::chrono::milliseconds(req.timeout_ms);
  w.deadline = st.deadlines.emplace(at, id);
  if (at < st.next_tick) {
    st.next_tick = at;
    tick_in = at - now;
  }
  st.waiters.emplace(id, std::move(w));
  return id;
}

/// A tick at `now`: answers every waiter whose timeout passed; returns when
/// the next tick must come, if no earlier one is on its way.
std::optional<caf::timespan> expire(notifier_state& st, caf::actor_clock::time_point now) {
  if (now >= st.next_tick) st.next_tick = caf::actor_clock::time_point::max();
  while (!st.deadlines.empty() && st.deadlines.begin()->first <= now) {
    auto id = st.deadlines.begin()->second;
    if (!st.waiters.count(id)) st.deadlines.erase(st.deadlines.begin()); // never: forget() erases it
    else wake(st, id);
  }
  if (st.deadlines.empty()) return std::nullopt;
  auto earliest = st.deadlines.begin()->first;
  if (earliest >= st.next_tick) return std::nullopt;
  st.next_tick = earliest;
  return earliest - now;
}

/// The rows of an events message, with whom they concern.
std::vector<entry> rows_of(const msg::events_advanced& adv) {
  std::vector<entry> rows;
  rows.reserve(adv.rows.size());
  for (auto& r : adv.rows) {
    entry e{index(stream_id::events), r.pos, r.room_id, {}};
    // A membership change concerns its target even before they are in the
    // room (invites).
    if (r.type == "m.room.member") e.users.push_back(r.state_key);
    rows.push_back(std::move(e));
  }
  return rows;
}

std::vector<entry> rows_of(const msg::stream_advanced& adv) {
  std::vector<entry> rows;
  rows.reserve(adv.rows.size());
  for (auto& r : adv.rows) rows.push_back({adv.stream, r.pos, r.room_id, r.user_ids});
  return rows;
}

/// True when advancing entry `slot` to `pos` with `rows` answers no response
/// promise (it may wake long-polls that wait with a callback): the shortcut
/// may then do it on its caller's thread.
bool quiet(const notifier_state& st, size_t slot, int64_t pos, const std::vector<entry>& rows) {
  // Long-polls waiting with a callback may be woken from any thread; a
  // response promise is the actor's to deliver.
  auto callbacks_only = [&](const std::unordered_set<uint64_t>& ids) {
    for (auto id : ids)
      if (auto w = st.waiters.find(id); w != st.waiters.end() && !w->second.done) return false;
    return true;
  };
  for (auto& e : rows) {
    if (!e.room_id.empty())
      if (auto i = st.by_room.find(e.room_id); i != st.by_room.end() && !callbacks_only(i->second))
        return false;
    for (auto& u : e.users)
      if (auto i = st.by_user.find(u); i != st.by_user.end() && !callbacks_only(i->second)) return false;
  }
  auto i = st.position_waiters.lower_bound({slot, INT64_MIN});
  return i == st.position_waiters.end() || i->first.first != slot || i->first.second > pos;
}

/// A stream (or an events writer) is durable up to a position whose rows
/// are unknown here (msg::stream_caught_up).
void caught_up(notifier_self self, const msg::stream_caught_up& req) {
  auto& st = state_of(self);
  if (req.stream >= stream_count) return;
  if (req.stream == index(stream_id::events) && !st.writers.empty()) {
    // One writer reached `pos`, or (no instance) someone exposed it as the
    // lowest: every writer is at least there.
    if (req.instance.empty()) {
      for (auto& w : st.writers) writer_caught_up(st, w, req.pos);
    } else {
      writer_caught_up(st, req.instance, req.pos);
      st.down.erase(req.instance); // it runs (see the top)
    }
    release(self);
    return;
  }
  catch_up(st, req.stream, req.pos);
}

// ---- behavior ------------------------------------------------------------------

/// The state at the start, set before the actor or the shortcut can run.
void init_core(notifier_core& core, std::vector<int64_t> start,
               std::shared_ptr<stream_positions> positions,
               const std::vector<std::pair<std::string, int64_t>>& events_writers,
               writer_liveness_actor liveness) {
  auto& st = core.st;
  for (auto& [w, p] : events_writers) {
    st.writers.push_back(w);
    st.writer_pos[w] = p;
  }
  st.liveness = std::move(liveness);
  start.resize(stream_count, 0);
  for (auto& [w, p] : events_writers) start.push_back(std::max(p, start[0]));
  st.pos = start;
  st.history_floor = start;
  positions->size = start.size();
  for (size_t s = 0; s < start.size(); ++s) positions->at[s].store(start[s]);
  st.published = std::move(positions);
}

caf::behavior notifier(notifier_self self, std::shared_ptr<notifier_core> core) {
  self->state.core = std::move(core);
  // The shortcut may outlive this actor: drop the promises (they hold it).
  // Waiters without an actor are answered "nothing new" now rather than
  // at their timeout.
  self->attach_functor([c = self->state.core] {
    std::lock_guard<std::mutex> lock(c->mu);
    for (auto& [id, w] : c->st.waiters)
      if (w.done) w.done(w.since);
    c->st.waiters.clear();
    c->st.by_room.clear();
    c->st.by_user.clear();
    c->st.deadlines.clear();
    c->st.position_waiters.clear();
    c->stopped = true;
  });
  // Every handler holds the core's lock (the shortcut may run meanwhile).
  return {
    [=](msg::events_advanced& adv) {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      auto& st = state_of(self);
      auto rows = rows_of(adv);
      if (st.writers.empty()) {
        advance(st, index(stream_id::events), adv.pos, std::move(rows));
        return;
      }
      st.down.erase(adv.instance); // it runs (see the top)
      writer_advanced(st, adv.instance, adv.pos, std::move(rows));
      release(self);
    },
    [=](msg::stream_advanced& adv) {
      if (adv.stream >= stream_count) return;
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      advance(state_of(self), adv.stream, adv.pos, rows_of(adv));
    },
    [=](msg::wait_for_updates& req) -> caf::typed_response_promise<std::vector<int64_t>> {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      auto& st = state_of(self);
      auto rp = self->make_response_promise<std::vector<int64_t>>();
      waiter w{req.user_id, {req.room_ids.begin(), req.room_ids.end()}, rp, {}, {}, {}};
      std::optional<caf::timespan> tick_in;
      auto id = add_waiter(st, w, req, self->clock().now(), tick_in);
      if (id == 0) rp.deliver(st.pos);
      else if (tick_in) self->delayed_send(self, *tick_in, tick_atom::value);
      return rp;
    },
    [=](msg::stream_caught_up& req) {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      caught_up(self, req);
    },
    [=](counted_atom, msg::stream_caught_up& req) {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      caught_up(self, req);
      --self->state.core->pending;
    },
    [=](tick_atom) {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      if (auto next = expire(state_of(self), self->clock().now())) self->delayed_send(self, *next, tick_atom::value);
    },
    [=](stall_atom, int64_t mark) {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      auto& st = state_of(self);
      st.stall_timer = false;
      auto high = highest(st.writer_pos);
      if (high <= st.pos[index(stream_id::events)]) return;
      if (st.pos[index(stream_id::events)] == mark) {
        // Who holds the lowest position back?
        std::set<std::string> suspects;
        for (auto& [w, p] : st.writer_pos)
          if (!st.down.count(w) && p < high) suspects.insert(w);
        check_writers(self, suspects);
      }
      watch_stall(self);
    },
    [=](msg::await_stream_position& req) -> caf::typed_response_promise<int64_t> {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      auto& st = state_of(self);
      auto rp = self->make_response_promise<int64_t>();
      if (req.stream >= st.pos.size() || req.pos <= st.pos[req.stream]) rp.deliver(req.pos);
      else st.position_waiters.emplace(std::make_pair(size_t{req.stream}, req.pos), rp);
      return rp;
    },
    [=](caf::get_atom) {
      std::lock_guard<std::mutex> lock(self->state.core->mu);
      return state_of(self).pos;
    },
  };
}

} // namespace

notifier_actor spawn_notifier(caf::actor_system& sys, std::vector<int64_t> start,
                              std::shared_ptr<stream_positions> positions,
                              std::vector<std::pair<std::string, int64_t>> events_writers,
                              writer_liveness_actor liveness, notifier_shortcut* shortcut,
                              notifier_waits* waits) {
  auto core = std::make_shared<notifier_core>();
  init_core(*core, std::move(start), std::move(positions), events_writers, std::move(liveness));
  if (shortcut) {
    shortcut->own_events = [core](const msg::events_advanced& adv, const std::function<void()>& visible) {
      std::lock_guard<std::mutex> lock(core->mu);
      auto& st = core->st;
      if (!st.writers.empty()) return false; // the lowest position's logic: the actor's
      if (core->pending > 0) return false;   // behind a catch-up
      auto rows = rows_of(adv);
      if (!quiet(st, index(stream_id::events), adv.pos, rows)) return false;
      advance(st, index(stream_id::events), adv.pos, std::move(rows), &visible);
      return true;
    };
    shortcut->events = [own = shortcut->own_events](const msg::events_advanced& adv) {
      return own(adv, [] {});
    };
    shortcut->stream = [core](const msg::stream_advanced& adv) {
      if (adv.stream >= stream_count) return true; // ignored either way
      std::lock_guard<std::mutex> lock(core->mu);
      auto& st = core->st;
      if (core->pending > 0) return false; // behind a catch-up
      auto rows = rows_of(adv);
      if (!quiet(st, adv.stream, adv.pos, rows)) return false;
      advance(st, adv.stream, adv.pos, std::move(rows));
      return true;
    };
  }
  auto untyped = sys.spawn(notifier, core);
  auto n = caf::actor_cast<notifier_actor>(untyped);
  if (waits) {
    // Straight into the state (under its lock, as the shortcut): no
    // message, no actor and no promise per long-poll; timeouts come with
    // the notifier's ticks.
    waits->wait = [core, clock = &sys.clock(), weak = caf::actor_cast<caf::weak_actor_ptr>(untyped)](
                    const msg::wait_for_updates& req, std::function<void(std::vector<int64_t>)> done) {
      std::unique_lock<std::mutex> lock(core->mu);
      auto& st = core->st;
      auto now = core->stopped ? req.since : st.pos;
      waiter w{req.user_id, {req.room_ids.begin(), req.room_ids.end()}, {}, std::move(done), req.since, {}};
      std::optional<caf::timespan> tick_in;
      auto id = core->stopped ? 0 : add_waiter(st, w, req, clock->now(), tick_in);
      if (id == 0) {
        lock.unlock();
        w.done(std::move(now));
        return id;
      }
      if (tick_in)
        if (auto strong = caf::actor_cast<caf::actor>(weak)) caf::delayed_anon_send(strong, *tick_in, tick_atom::value);
      return id;
    };
    waits->cancel = [core](uint64_t id) {
      std::function<void(std::vector<int64_t>)> dropped;
      std::lock_guard<std::mutex> lock(core->mu);
      auto i = core->st.waiters.find(id);
      if (i == core->st.waiters.end()) return;
      dropped = std::move(i->second.done); // freed after the lock: it may hold a lot
      forget(core->st, i);
    };
    waits->waiting = [core] {
      std::lock_guard<std::mutex> lock(core->mu);
      return core->st.waiters.size();
    };
  }
  if (shortcut)
    shortcut->caught_up = [core, n](const msg::stream_caught_up& req) {
      ++core->pending;
      caf::anon_send(n, counted_atom::value, req);
    };
  return n;
}

} // namespace axon::actors
