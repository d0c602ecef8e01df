// actors/notifier/notifier.cpp
//
// Waiters register with the position their client has seen. A short history
// of recent rows closes the race between "the handler found nothing new" and
// "the waiter is registered": rows that arrived in between are checked on
// registration.
#include "actors/notifier/notifier.hpp"

#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace axon::actors {

namespace {

// ---- constants ---------------------------------------------------------------

/// Rows kept for late registrations; older `since` positions wake at once.
constexpr size_t history_rows = 4096;

// ---- state -------------------------------------------------------------------

struct waiter {
  std::string user_id;
  std::unordered_set<std::string> rooms;
  caf::typed_response_promise<int64_t> rp;
};

struct notifier_state {
  int64_t pos = 0;
  std::shared_ptr<std::atomic<int64_t>> published; ///< `pos`, for request threads
  std::deque<msg::events_row> history;
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, waiter> waiters;
  /// room id -> waiters interested in it; user id -> waiters of that user.
  std::unordered_map<std::string, std::unordered_set<uint64_t>> by_room, by_user;
  /// Requests waiting for the stream to reach a position, by position.
  std::multimap<int64_t, caf::typed_response_promise<int64_t>> position_waiters;
  static inline const char* name = "notifier";
};

using timeout_atom = caf::atom_constant<caf::atom("timeout")>;

// ---- helpers -------------------------------------------------------------------

bool concerns(const waiter& w, const msg::events_row& row) {
  return w.rooms.count(row.room_id) ||
         (row.type == "m.room.member" && row.state_key == w.user_id);
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

// ---- behavior ------------------------------------------------------------------

caf::behavior notifier(caf::stateful_actor<notifier_state>* self, int64_t start_pos,
                       std::shared_ptr<std::atomic<int64_t>> position) {
  self->state.pos = start_pos;
  position->store(start_pos);
  self->state.published = std::move(position);
  return {
    [=](msg::events_advanced& adv) {
      auto& st = self->state;
      if (adv.pos > st.pos) {
        st.pos = adv.pos;
        st.published->store(st.pos);
      }
      while (!st.position_waiters.empty() && st.position_waiters.begin()->first <= st.pos) {
        st.position_waiters.begin()->second.deliver(st.pos);
        st.position_waiters.erase(st.position_waiters.begin());
      }
      std::unordered_set<uint64_t> to_wake;
      for (auto& row : adv.rows) {
        if (auto i = st.by_room.find(row.room_id); i != st.by_room.end())
          to_wake.insert(i->second.begin(), i->second.end());
        if (row.type == "m.room.member")
          if (auto i = st.by_user.find(row.state_key); i != st.by_user.end())
            to_wake.insert(i->second.begin(), i->second.end());
        st.history.push_back(std::move(row));
        if (st.history.size() > history_rows) st.history.pop_front();
      }
      for (auto id : to_wake) wake(st, id);
    },
    [=](msg::wait_for_events& req) -> caf::typed_response_promise<int64_t> {
      auto& st = self->state;
      auto rp = self->make_response_promise<int64_t>();
      waiter w{req.user_id, {req.room_ids.begin(), req.room_ids.end()}, rp};
      // Something newer than the client has seen may have arrived already.
      bool ready = req.timeout_ms <= 0;
      if (!ready && req.since_pos < st.pos) {
        if (st.history.empty() || st.history.front().pos > req.since_pos + 1) ready = true;
        for (auto it = st.history.rbegin(); !ready && it != st.history.rend(); ++it) {
          if (it->pos <= req.since_pos) break;
          ready = concerns(w, *it);
        }
      }
      if (ready) {
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
    [=](timeout_atom, uint64_t id) { wake(self->state, id); },
    [=](msg::await_position& req) -> caf::typed_response_promise<int64_t> {
      auto rp = self->make_response_promise<int64_t>();
      if (req.pos <= self->state.pos) rp.deliver(self->state.pos);
      else self->state.position_waiters.emplace(req.pos, rp);
      return rp;
    },
    [=](caf::get_atom) { return self->state.pos; },
  };
}

} // namespace

notifier_actor spawn_notifier(caf::actor_system& sys, int64_t start_pos,
                              std::shared_ptr<std::atomic<int64_t>> position) {
  return caf::actor_cast<notifier_actor>(sys.spawn(notifier, start_pos, std::move(position)));
}

} // namespace axon::actors
