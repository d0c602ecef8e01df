// actors/client/sync_handler.cpp -- GET /sync: initial, incremental and
// long-poll. Spec: client-server API "Syncing".
//
// A token's events position p means the client has seen every event up to p.
// Rooms keep one linear history each (their writer always builds on all
// forward extremities), so "state at position p" is the newest state event
// per key at or before p.
#include "actors/client/common.hpp"
#include "actors/client/history.hpp"
#include "actors/client/routes.hpp"
#include "actors/client/sync_share.hpp"
#include "actors/client/sync_streams.hpp"
#include "matrix/filter.hpp"
#include "matrix/stream_token.hpp"
#include "storage/stores/account_data_store.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/push_actions_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "transport/transport.hpp"

#include <deque>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace axon::client {

using http::fail;

namespace {

// ---- constants -------------------------------------------------------------------

constexpr int64_t default_timeline_limit = 10;
constexpr int64_t max_timeline_limit = 1000;
constexpr int64_t max_timeout_ms = 10 * 60 * 1000;

/// Stripped state shown with invites (spec "Stripped state").
const std::set<std::string> invite_state_types = {
  "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
  "m.room.canonical_alias", "m.room.encryption", "m.room.topic"};

// ---- helpers -----------------------------------------------------------------------

/// The member events each device was sent under lazy loading (Synapse's
/// lazy_loaded_members_cache), so that an incremental sync leaves out those
/// it has. Per process and bounded: a sync served by another instance, or
/// after eviction, sends them again, which is always correct. An entry
/// counts only once the client syncs from a token at or past the response
/// that carried it: a response that never arrived is resent.
class sent_members_cache {
public:
  bool sent(const std::string& device, const std::string& event_id, int64_t since) {
    std::lock_guard<std::mutex> lock(mu_);
    auto d = devices_.find(device);
    if (d == devices_.end()) return false;
    auto e = d->second.at.find(event_id);
    return e != d->second.at.end() && e->second <= since;
  }

  void add(const std::string& device, const std::vector<std::string>& event_ids, int64_t pos) {
    if (event_ids.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (devices_.size() >= max_devices && !devices_.count(device)) devices_.erase(devices_.begin());
    auto& d = devices_[device];
    for (auto& id : event_ids) {
      auto [it, fresh] = d.at.emplace(id, pos);
      if (!fresh) continue; // keep the first (earliest) response that carried it
      d.order.push_back(id);
      if (d.order.size() > max_per_device) {
        d.at.erase(d.order.front());
        d.order.pop_front();
      }
    }
  }

  void forget(const std::string& device) {
    std::lock_guard<std::mutex> lock(mu_);
    devices_.erase(device);
  }

private:
  static constexpr size_t max_devices = 10000;
  static constexpr size_t max_per_device = 500;
  struct device_entries {
    std::unordered_map<std::string, int64_t> at; ///< event id -> room position of the response
    std::deque<std::string> order;
  };
  std::mutex mu_;
  std::unordered_map<std::string, device_entries> devices_;
};

sent_members_cache& lazy_members() {
  static sent_members_cache cache;
  return cache;
}

struct sync_params {
  /// Shared by every request with the same filter text (shared_filter): a
  /// parsed filter is over a KiB, and each parked poll holds its params.
  std::shared_ptr<const matrix::sync_filter> filter;
  std::optional<std::vector<int64_t>> since; ///< token order, one per stream
  bool full_state = false;
  int64_t timeout_ms = 0;
};

/// The parsed filter of `text` (a filter's JSON; "" for none): one copy per
/// distinct text while requests hold it, so ten thousand polls of clients
/// that send the same filter (every Element sends the same one) hold one.
/// A parse is a pure function of the text, so sharing changes no answer.
std::shared_ptr<const matrix::sync_filter> shared_filter(const std::string& text) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::weak_ptr<const matrix::sync_filter>> by_text;
  static size_t sweep_at = 1024; ///< entries whose filters went are dropped past this size
  {
    std::lock_guard<std::mutex> lk(mu);
    if (auto it = by_text.find(text); it != by_text.end())
      if (auto held = it->second.lock()) return held;
  }
  std::shared_ptr<const matrix::sync_filter> made;
  if (text.empty()) {
    made = std::make_shared<const matrix::sync_filter>();
  } else {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) fail(errc::not_json, "filter is not valid JSON");
    std::string why;
    auto parsed = matrix::parse_sync_filter(j, &why);
    if (!parsed) fail(errc::bad_json, "Invalid filter: " + why);
    made = std::make_shared<const matrix::sync_filter>(std::move(*parsed));
  }
  std::lock_guard<std::mutex> lk(mu);
  if (by_text.size() >= sweep_at) {
    for (auto it = by_text.begin(); it != by_text.end();)
      it = it->second.expired() ? by_text.erase(it) : std::next(it);
    sweep_at = std::max<size_t>(1024, 2 * by_text.size());
  }
  auto& slot = by_text[text];
  if (auto held = slot.lock()) return held; // another request parsed it meanwhile
  slot = made;
  return made;
}

sync_params parse_params(request& req) {
  sync_params p;
  std::string text; // the filter's JSON, inline or stored
  if (auto f = req.query_param("filter")) {
    if (!f->empty() && (*f)[0] == '{') {
      text = *f;
    } else {
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(*f, &used);
        if (used != f->size()) id = -1;
      } catch (const std::exception&) {
      }
      auto stored = id < 0 ? std::nullopt : req.ctx->accounts->get_filter(req.auth().user_id, id);
      if (!stored) fail(errc::not_found, "No such filter: " + *f);
      text = std::move(*stored);
    }
    if (text.empty()) text = "{}";
  }
  p.filter = shared_filter(text);
  if (auto s = req.query_param("since")) {
    auto t = matrix::parse_stream_token(*s);
    if (!t) fail(errc::invalid_param, "Invalid since token");
    p.since = token_positions(req, *t);
  }
  if (auto fs = req.query_param("full_state")) p.full_state = *fs == "true";
  if (auto sp = req.query_param("set_presence"))
    if (*sp != "online" && *sp != "offline" && *sp != "unavailable")
      fail(errc::invalid_param, "set_presence must be online, offline or unavailable");
  p.timeout_ms = std::min(int_param(req, "timeout").value_or(0), max_timeout_ms);
  return p;
}

class sync_builder {
public:
  sync_builder(request& req, const sync_params& p, std::vector<int64_t> positions)
    : req_(req), p_(p), positions_(std::move(positions)), pos_(positions_[0]), now_(now_ms(req)) {
    if (p.since) since_ = (*p.since)[0];
    // Several events writers: each room is covered up to its writer's entry.
    top_ = events_top(positions_);
    auto lim = p.filter->room.timeline.limit;
    limit_ = lim < 0 ? default_timeline_limit : std::min<int64_t>(lim, max_timeline_limit);
  }

  /// Fills `out` and says whether anything in it is news for the client.
  bool build(json& out) {
    auto& me = req_.auth().user_id;
    // A sync without a token starts over: the client keeps nothing.
    if (!since_ && p_.filter->room.state.lazy_load_members) lazy_members().forget(device_key());
    json join = json::object(), invite = json::object(), leave = json::object(), knock = json::object();
    // The reads every response starts with, in one round trip (a pipeline
    // on PostgreSQL): ignored users, memberships, the device's keys, and
    // with a token the rooms with events since.
    std::vector<storage::statement> batch{
      storage::account_data_store::get_query(me, "", "m.ignored_user_list"),
      storage::rooms_store::memberships_query(me),
      storage::e2e_keys_store::key_state_query(me, req_.auth().device_id)};
    if (since_) batch.push_back(storage::events_store::room_activity_query(*since_, top_));
    auto results = req_.ctx->pool->acquire()->exec_many(batch);
    ignored_ = ignored_users_in(storage::account_data_store::get_row(results[0]));
    auto memberships = storage::rooms_store::membership_rows(results[1]);
    // A membership newer than this response (it covers less than the
    // database holds): the one the user had at the response's position, or
    // a leave that came after it would hide the room's events up to there
    // from this response and from the next (found by the simulation). From
    // here on every membership is as of the response's position.
    for (auto m = memberships.begin(); m != memberships.end();) {
      if (m->stream_ordering <= room_pos(m->room_id)) {
        ++m;
        continue;
      }
      auto then = req_.ctx->rooms->membership_at(me, m->room_id, room_pos(m->room_id));
      if (then) *m++ = std::move(*then);
      else m = memberships.erase(m);
    }
    std::unordered_set<std::string> active;
    std::vector<const storage::membership_row*> with_news; ///< joined, shown for their new events
    std::optional<bool> memberships_moved;
    if (since_) {
      auto activity = storage::events_store::room_activity_rows(results[3]);
      if (!p_.full_state) active.insert(activity.rooms.begin(), activity.rooms.end());
      memberships_moved = activity.memberships;
    }

    for (auto& m : memberships) {
      if (m.forgotten) continue;
      if (!room_wanted(m.room_id)) continue;
      // Changed since the token (joined, invited, left): the room anew.
      bool is_new = !since_ || m.stream_ordering > room_since(m.room_id);
      if (m.membership == "join") {
        // A join since the token that only changed the profile (join after
        // join) is an ordinary update, not a new room.
        if (since_ && is_new) is_new = !joined_at_since(m.room_id);
        if (!since_ || is_new) {
          joined_room(join, m, std::nullopt, true, since_.has_value());
          full_rooms_.push_back(m.room_id);
        } else if (p_.full_state) {
          joined_room(join, m, room_since(m.room_id), true);
          full_rooms_.push_back(m.room_id);
        }
        else if (active.count(m.room_id)) with_news.push_back(&m);
      } else if (m.membership == "invite") {
        if ((is_new || p_.full_state) && !invite_from_ignored(m)) invited_room(invite, m);
      } else if (m.membership == "knock") {
        if (is_new || p_.full_state) knocked_room(knock, m);
      } else if (m.membership == "leave" || m.membership == "ban") {
        bool show = since_ ? (is_new || (p_.full_state && p_.filter->room.include_leave))
                             : p_.filter->room.include_leave;
        if (show) left_room(leave, m);
      }
    }
    sync_context c{req_, *p_.filter, p_.since, positions_, p_.full_state, {}, {}, {}, {}, {}, {}};
    read_with_news(with_news, c.unread_rows);
    for (auto* m : with_news) joined_room(join, *m, room_since(m->room_id), false);
    for (auto& m : memberships)
      if (m.membership == "join" || m.membership == "invite" || m.membership == "knock")
        wait_rooms_.push_back(m.room_id);
    bool news = !join.empty() || !invite.empty() || !leave.empty() || !knock.empty();
    out["rooms"] = {{"join", join}, {"invite", invite}, {"leave", leave}, {"knock", knock}};
    c.key_state = storage::e2e_keys_store::key_state_rows(results[2]);
    c.memberships_moved = memberships_moved;
    for (auto& m : memberships)
      if (m.membership == "join") c.joined_rooms.push_back(m.room_id);
    c.full_rooms = full_rooms_;
    news |= add_stream_sections(c, out);
    // A stream that capped its rows lowered its entry (sync_context::hold_back).
    // Never behind the client's own token: what lies below it, it has seen
    // (through another instance that showed more already).
    auto np = c.next_positions();
    if (p_.since)
      for (size_t s = 0; s < np.size() && s < p_.since->size(); ++s) np[s] = std::max(np[s], (*p_.since)[s]);
    out["next_batch"] = token_string(req_, np);
    return news;
  }

  /// The rooms a long-poll after this response listens to (joined and
  /// invited), read by build().
  std::vector<std::string>& wait_rooms() { return wait_rooms_; }

private:
  /// How far the client's token / this response cover room `room_id`.
  int64_t room_since(const std::string& room_id) const {
    return p_.since ? room_position(req_, *p_.since, room_id) : 0;
  }
  int64_t room_pos(const std::string& room_id) const {
    return room_position(req_, positions_, room_id);
  }
  /// Whether the user was joined to the room at the client's token.
  bool joined_at_since(const std::string& room_id) const {
    auto then = req_.ctx->rooms->membership_at(req_.auth().user_id, room_id, room_since(room_id));
    return then && then->membership == "join";
  }

  bool room_wanted(const std::string& room_id) const {
    auto& rf = p_.filter->room;
    if (rf.not_rooms && std::count(rf.not_rooms->begin(), rf.not_rooms->end(), room_id)) return false;
    if (rf.rooms && !std::count(rf.rooms->begin(), rf.rooms->end(), room_id)) return false;
    return true;
  }

  /// Spec "Ignoring Users": no events from ignored users; their state events
  /// stay, as in Synapse, so the room's state remains consistent.
  bool hidden(const json& ev) const {
    return !ignored_.empty() && !ev.contains("state_key") && ignored_.count(ev.value("sender", ""));
  }

  /// Spec "Ignoring Users": invites from ignored users are not sent.
  bool invite_from_ignored(const storage::membership_row& m) const {
    if (ignored_.empty()) return false;
    auto ev = req_.ctx->events->get_event(m.event_id);
    return ev && ignored_.count(ev->json.value("sender", ""));
  }

  json format(const json& ev) const {
    if (p_.filter->event_format == "federation") return ev;
    auto out = sync_event(ev, &req_.auth(), now_);
    if (!p_.filter->event_fields.empty()) out = matrix::apply_event_fields(out, p_.filter->event_fields);
    return out;
  }

  /// The rooms shown for their new events: each one's newest events (the
  /// timeline's first read) and its unread counts, in one round trip for
  /// all of them (a pipeline on PostgreSQL) instead of two per room.
  void read_with_news(const std::vector<const storage::membership_row*>& rooms,
                      std::map<std::string, storage::result>& unread_rows) {
    if (rooms.empty()) return;
    std::vector<storage::statement> batch;
    batch.reserve(rooms.size() * 2);
    for (auto* m : rooms) {
      batch.push_back(storage::events_store::room_events_query(
        m->room_id, room_since(m->room_id), room_pos(m->room_id), static_cast<size_t>(limit_ + 1), true));
      batch.push_back(storage::push_actions_store::unread_query(req_.auth().user_id, m->room_id,
                                                                room_pos(m->room_id)));
    }
    auto results = req_.ctx->pool->acquire()->exec_many(batch);
    for (size_t i = 0; i < rooms.size(); ++i) {
      auto& room_id = rooms[i]->room_id;
      first_pages_[room_id] = {room_since(room_id), room_pos(room_id),
                               storage::events_store::room_events_rows(results[2 * i])};
      unread_rows[room_id] = std::move(results[2 * i + 1]);
    }
  }

  /// A timeline's first read done by read_with_news: the range it covers
  /// and its rows.
  struct first_page {
    int64_t from = 0, to = 0;
    std::vector<storage::stored_event> rows;
  };

  /// Timeline of (from, to]: the newest `limit_` events passing the filter.
  struct timeline {
    json events = json::array();
    bool limited = false;
    int64_t start = 0; ///< position just before the first timeline event
    std::vector<json> raw;
  };

  /// History visibility applies (matrix/visibility.hpp); events the user
  /// may not see are skipped like filtered ones, except current state
  /// (Synapse's always_include_ids: the client gets it as state anyway).
  /// Past `max_skipped` skipped events the timeline stops, limited.
  timeline load_timeline(const std::string& room_id, int64_t from, int64_t to,
                         history_filter& visible) {
    timeline t;
    auto& tf = p_.filter->room.timeline;
    auto fetch = static_cast<size_t>(limit_ + 1);
    const size_t max_skipped = static_cast<size_t>(limit_) * 4 + 100;
    size_t skipped = 0;
    int64_t hi = to;
    std::optional<std::unordered_set<std::string>> current_state;
    auto allowed = [&](const storage::stored_event& r) {
      if (visible.allows(r.json, r.stream_ordering)) return true;
      if (!r.json.contains("state_key")) return false;
      if (!current_state) {
        current_state.emplace();
        for (auto& ev : req_.ctx->rooms->current_state(room_id))
          current_state->insert(ev.value("event_id", ""));
      }
      return current_state->count(r.json.value("event_id", "")) > 0;
    };
    std::vector<storage::stored_event> picked;
    auto first = first_pages_.find(room_id);
    while (static_cast<int64_t>(picked.size()) <= limit_ && hi > from && skipped <= max_skipped) {
      std::vector<storage::stored_event> rows;
      if (first != first_pages_.end() && first->second.from == from && first->second.to == hi) {
        rows = std::move(first->second.rows);
        first_pages_.erase(first);
        first = first_pages_.end();
      } else {
        rows = req_.ctx->events->room_events(room_id, from, hi, fetch, true);
      }
      for (auto& r : rows) {
        hi = r.stream_ordering - 1;
        if (hidden(r.json) || !tf.match(r.json) || !allowed(r)) {
          if (++skipped > max_skipped) break;
          continue;
        }
        picked.push_back(std::move(r));
        if (static_cast<int64_t>(picked.size()) > limit_) break;
      }
      if (rows.size() < fetch) break;
    }
    if (static_cast<int64_t>(picked.size()) > limit_) {
      t.limited = true;
      picked.pop_back();
    } else if (skipped > max_skipped && hi > from) {
      t.limited = true;
    }
    // prev_batch: just before the oldest event shown, so /messages continues
    // exactly there; with nothing shown, the end of the range (the state
    // sent is then the state there).
    t.start = picked.empty() ? to : picked.back().stream_ordering - 1;
    for (auto i = picked.rbegin(); i != picked.rend(); ++i) {
      t.events.push_back(format(i->json));
      t.raw.push_back(i->json);
    }
    return t;
  }

  /// The state section. Lazy-loaded members (spec "Lazy-loading room
  /// members"; Synapse's compute_state_delta): only the member events of the
  /// timeline's senders (and the user's own with full state); an
  /// incremental sync adds each sender's member event as of the timeline's
  /// start, which the client may not have (members from the gap, old leaves,
  /// users who speak again after a gap), leaving out those this device was
  /// sent already unless include_redundant_members asks.
  json state_section(const std::string& room_id, std::vector<json> state, const timeline& t,
                     bool full) {
    auto& sf = p_.filter->room.state;
    std::unordered_set<std::string> in_timeline;
    for (auto& e : t.raw) in_timeline.insert(e.value("event_id", ""));
    if (sf.lazy_load_members) {
      std::unordered_set<std::string> senders;
      for (auto& e : t.raw) senders.insert(e.value("sender", ""));
      if (full) senders.insert(req_.auth().user_id);
      std::unordered_set<std::string> have;
      std::vector<json> kept;
      for (auto& ev : state) {
        bool member = ev.value("type", "") == "m.room.member";
        if (member && !senders.count(ev.value("state_key", ""))) continue;
        if (member) have.insert(ev.value("state_key", ""));
        kept.push_back(std::move(ev));
      }
      state = std::move(kept);
      if (!full && !t.raw.empty()) {
        std::vector<std::string> need;
        for (auto& u : senders)
          if (!have.count(u)) need.push_back(u);
        std::sort(need.begin(), need.end());
        auto since = room_since(room_id);
        for (auto& ev : req_.ctx->events->members_at(room_id, need, t.start)) {
          auto& id = ev.at("event_id").get_ref<const std::string&>();
          if (!sf.include_redundant_members && lazy_members().sent(device_key(), id, since)) continue;
          state.push_back(std::move(ev));
        }
      }
    }
    json events = json::array();
    std::vector<std::string> members_sent;
    for (auto& ev : state) {
      if (in_timeline.count(ev.value("event_id", ""))) continue;
      if (!sf.match(ev)) continue;
      if (sf.lazy_load_members && ev.value("type", "") == "m.room.member")
        members_sent.push_back(ev.value("event_id", ""));
      events.push_back(format(ev));
    }
    if (sf.lazy_load_members) {
      for (auto& e : t.raw)
        if (e.value("type", "") == "m.room.member") members_sent.push_back(e.value("event_id", ""));
      lazy_members().add(device_key(), members_sent, room_pos(room_id));
    }
    return {{"events", events}};
  }

  std::string device_key() const { return req_.auth().user_id + "\n" + req_.auth().device_id; }

  static bool members_changed(const std::vector<json>& events) {
    for (auto& ev : events)
      if (ev.value("type", "") == "m.room.member") return true;
    return false;
  }

  json summary(const std::string& room_id) {
    int64_t joined = 0, invited = 0;
    json heroes = json::array();
    for (auto& ev : req_.ctx->rooms->current_members(room_id)) {
      auto m = ev["content"].value("membership", "");
      auto who = ev.value("state_key", "");
      if (m == "join") ++joined;
      else if (m == "invite") ++invited;
      if ((m == "join" || m == "invite") && who != req_.auth().user_id && heroes.size() < 5)
        heroes.push_back(who);
    }
    return {{"m.joined_member_count", joined}, {"m.invited_member_count", invited}, {"m.heroes", heroes}};
  }

  /// The timeline covers (since, pos] (the newest events when no since);
  /// `full` sends the whole state at the start of the timeline (initial
  /// sync, a new join, full_state), otherwise only what changed in the gap
  /// before a limited timeline. `newly_joined` (a join since the token):
  /// the timeline is limited, as Synapse marks it, since the client has
  /// none of the room's history.
  void joined_room(json& out, const storage::membership_row& m, std::optional<int64_t> since,
                   bool full, bool newly_joined = false) {
    auto& room_id = m.room_id;
    history_filter visible(req_, room_id, room_pos(room_id), false, m.stream_ordering);
    auto t = load_timeline(room_id, since.value_or(0), room_pos(room_id), visible);
    if (newly_joined) t.limited = true;
    std::vector<json> state;
    if (full) state = req_.ctx->events->state_at(room_id, t.start);
    else if (t.limited) state = req_.ctx->events->state_changes(room_id, *since, t.start);
    if (!full && t.events.empty() && state.empty()) return;
    json room = {{"timeline",
                  {{"events", t.events},
                   {"limited", t.limited},
                   {"prev_batch", matrix::stream_token{t.start, {}, {}}.to_string()}}},
                 {"state", state_section(room_id, std::move(state), t, full)}};
    // The summary only when it may have changed (spec: servers may omit an
    // unchanged summary; clients keep the last one): saves a query per room.
    if (full || members_changed(t.raw) || members_changed(room["state"]["events"]))
      room["summary"] = summary(room_id);
    out[room_id] = std::move(room);
  }

  void invited_room(json& out, const storage::membership_row& m) {
    out[m.room_id] = {{"invite_state", {{"events", stripped_room(m, "invite_room_state")}}}};
  }

  /// A room the user knocked on (spec "Knocking on rooms"): what they may
  /// see of it, as for an invite.
  void knocked_room(json& out, const storage::membership_row& m) {
    out[m.room_id] = {{"knock_state", {{"events", stripped_room(m, "knock_room_state")}}}};
  }

  /// The stripped state of a room the user is invited to or knocked on:
  /// for a room this server is not in, what the other server gave (kept in
  /// the membership's unsigned `given`), else the room's state at it.
  json stripped_room(const storage::membership_row& m, const char* given_key) {
    json events = json::array();
    auto state = req_.ctx->events->state_at(m.room_id, m.stream_ordering);
    for (auto& ev : state) {
      if (ev.value("type", "") != "m.room.member" || ev.value("state_key", "") != req_.auth().user_id) continue;
      auto given = ev.value("unsigned", json::object()).value(given_key, json());
      if (!given.is_array()) break;
      for (auto& s : given) events.push_back(s);
      json mine = format(ev);
      if (mine.contains("unsigned")) mine["unsigned"].erase(given_key);
      events.push_back(std::move(mine));
      return events;
    }
    for (auto& ev : state) {
      auto type = ev.value("type", "");
      bool mine = type == "m.room.member" && ev.value("state_key", "") == req_.auth().user_id;
      if (!mine && !invite_state_types.count(type)) continue;
      json stripped = {{"type", type},
                       {"state_key", ev.value("state_key", "")},
                       {"content", ev.value("content", json::object())},
                       {"sender", ev.value("sender", "")}};
      if (mine) stripped = format(ev);
      events.push_back(stripped);
    }
    return events;
  }

  /// A room the user left or was banned from: its timeline up to the leave,
  /// with the whole state when the client never had the room (no token, or
  /// not joined at the token: joined and left between two syncs), else what
  /// changed in the gap before a limited timeline.
  void left_room(json& out, const storage::membership_row& m) {
    auto from = room_since(m.room_id);
    history_filter visible(req_, m.room_id, m.stream_ordering, false);
    auto t = load_timeline(m.room_id, from, m.stream_ordering, visible);
    bool full = !since_ || !joined_at_since(m.room_id);
    std::vector<json> state;
    if (full) state = req_.ctx->events->state_at(m.room_id, t.start);
    else if (t.limited) state = req_.ctx->events->state_changes(m.room_id, from, t.start);
    out[m.room_id] = {{"timeline",
                       {{"events", t.events},
                        {"limited", t.limited},
                        {"prev_batch", matrix::stream_token{t.start, {}, {}}.to_string()}}},
                      {"state", state_section(m.room_id, std::move(state), t, full)}};
  }

  request& req_;
  const sync_params& p_;
  std::vector<int64_t> positions_; ///< every stream, token order
  int64_t pos_;                    ///< events: the lowest writer's
  int64_t top_;                    ///< events: the highest writer's
  std::optional<int64_t> since_;   ///< events: the lowest writer's
  std::vector<std::string> full_rooms_;
  int64_t now_;
  int64_t limit_;
  std::unordered_set<std::string> ignored_; ///< m.ignored_user_list, read once per response
  std::vector<std::string> wait_rooms_;
  std::unordered_map<std::string, first_page> first_pages_; ///< by room (read_with_news)
};

/// What makes two /sync requests identical (Synapse's request key: user,
/// timeout, since, filter, full_state, device), on this instance (its
/// context).
std::string share_key(request& req) {
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(req.ctx));
  for (auto part : {req.auth().user_id, req.auth().device_id, req.query_param("since").value_or(""),
                    req.query_param("filter").value_or(""), req.query_param("full_state").value_or(""),
                    req.query_param("timeout").value_or("")}) {
    // Length-prefixed: a part holding the separator can't pass for two.
    key += '|' + std::to_string(part.size()) + ':';
    key += part;
  }
  return key;
}

/// `j` as text, holding no more memory than its length (the serialiser
/// grows its string by doubling; a parked poll keeps this for its timeout).
std::string compact_text(const json& j) {
  auto text = j.dump();
  text.shrink_to_fit();
  return text;
}

response sync(request& req) {
  auto p = parse_params(req);
  presence_on_sync(req, p.timeout_ms);
  auto pos = sync_positions(req, p.since);
  json out;
  sync_builder first(req, p, pos);
  bool news = first.build(out);
  if (!news && p.since && p.timeout_ms > 0) {
    // Nothing yet: park on the notifier (no thread waits) and build again
    // from what woke it.
    // The empty answer waits as its text: a JSON tree would cost a KiB per
    // parked poll.
    // Identical polls woken together build their answer once (sync_share).
    auto share = shared_answers::instance().join(share_key(req));
    return http::wait_then(req.auth().user_id, pos, std::move(first.wait_rooms()), p.timeout_ms,
                           [&req, p, pos, text = compact_text(out), share](std::vector<int64_t> woke) -> response {
                             if (woke == pos) return {200, json::parse(text)};
                             return shared_answers::instance().answer(*share, woke, [&]() -> response {
                               json again;
                               sync_builder(req, p, woke).build(again);
                               return {200, std::move(again)};
                             });
                           });
  }
  return {200, out};
}

} // namespace

std::vector<int64_t> sync_positions(request& req, const std::optional<std::vector<int64_t>>& since) {
  // Whatever was acknowledged anywhere before this request is in it.
  req.ctx->transport->read_barrier();
  auto pos = req.ctx->transport->positions();
  // A token from another instance may be ahead of what this one shows yet:
  // wait for it (bounded), as Synapse waits for a token's stream positions.
  if (since) {
    bool ahead = false;
    for (size_t s = 0; s < pos.size() && s < since->size(); ++s) ahead |= (*since)[s] > pos[s];
    if (ahead) {
      req.ctx->transport->await_positions(*since, std::chrono::milliseconds(500));
      pos = req.ctx->transport->positions();
    }
  }
  return pos;
}

void add_sync_routes(std::vector<http::route>& out) {
  out.push_back({"GET", "/_matrix/client/{v}", "/sync", true, "client", sync, "sync"});
}

} // namespace axon::client
