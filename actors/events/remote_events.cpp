// actors/events/remote_events.cpp -- the events writer's path for events
// other servers built (see writer_room.hpp), and the state-group helpers.
//
// Each PDU goes through the spec's checks that need the room (server-server
// API "Checks performed on receipt of a PDU", steps 4-6; the handler ran
// steps 1-3): auth against its own auth_events (rules 2.1-2.3 on the list
// itself, then the auth rules), against the state before it (the state
// after its prev events, resolved when they differ), and against the
// room's current state. Failing step 4 or 5 rejects it: stored as a
// rejected outlier, never in a timeline, never state. Failing step 6
// soft-fails it: stored with its state, kept out of timelines and of the
// forward extremities. Otherwise it joins the timeline; the room's current
// state is the state after it when it extends every forward extremity, else
// the resolution of the current state with the state after it.
#include "actors/events/writer_room.hpp"

#include "matrix/event_hash.hpp"
#include "matrix/identifiers.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace axon::actors {

using nlohmann::json;
using dag_event = storage::events_store::dag_event;

matrix::state_map state_ids(const matrix::auth_state& state) {
  matrix::state_map out;
  for (auto& [key, ev] : state) out.emplace(key, ev.value("event_id", ""));
  return out;
}

void assign_group(storage::event_to_persist& p, bool is_state, const json& ev, int64_t before_group,
                  int before_chain, const matrix::auth_state& after, int64_t* group_out,
                  int* chain_out) {
  if (!is_state && before_group) {
    p.state_group = before_group;
    *group_out = before_group;
    *chain_out = before_chain;
    return;
  }
  p.state_group = p.stream_ordering;
  p.new_group = true;
  if (is_state && before_group && before_chain < max_group_chain) {
    p.group_prev = before_group;
    p.group_rows.push_back({ev.value("type", ""), ev.value("state_key", ""), ev.value("event_id", "")});
    *chain_out = before_chain + 1;
  } else {
    for (auto& [key, e] : after) p.group_rows.push_back({key.first, key.second, e.value("event_id", "")});
    *chain_out = 0;
  }
  *group_out = p.state_group;
}

std::vector<std::string> joined_servers(const matrix::auth_state& state, const std::string& self) {
  std::set<std::string> out;
  for (auto& [key, ev] : state) {
    if (key.first != "m.room.member") continue;
    auto c = ev.find("content");
    if (c == ev.end() || !c->is_object() || c->value("membership", "") != "join") continue;
    auto server = matrix::server_of(key.second);
    if (!server.empty() && server != self) out.insert(server);
  }
  return {out.begin(), out.end()};
}

namespace {

/// The ids an event's `prev_events` or `auth_events` name (v1/v2: the
/// first element of each [id, hashes] pair).
std::vector<std::string> ref_ids(const json& ev, const char* key) {
  std::vector<std::string> out;
  auto a = ev.find(key);
  if (a == ev.end() || !a->is_array()) return out;
  for (auto& ref : *a) {
    const json& id = ref.is_array() && !ref.empty() ? ref[0] : ref;
    if (id.is_string()) out.push_back(id.get<std::string>());
  }
  return out;
}

bool same_set(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return a == b;
}

/// Events of this request and of the database, read once each.
struct known_events {
  storage::events_store& store;
  std::map<std::string, dag_event> events;
  std::set<std::string> absent;

  void prefetch(const std::vector<std::string>& ids) {
    std::vector<std::string> want;
    for (auto& id : ids)
      if (!events.count(id) && !absent.count(id)) want.push_back(id);
    for (size_t at = 0; at < want.size(); at += 500) {
      std::vector<std::string> part(want.begin() + at, want.begin() + std::min(want.size(), at + 500));
      auto got = store.dag_events(part);
      for (auto& id : part) {
        auto i = got.find(id);
        if (i == got.end() || !i->second.json.is_object()) absent.insert(id);
        else events.emplace(id, std::move(i->second));
      }
    }
  }
  const dag_event* find(const std::string& id) {
    prefetch({id});
    auto i = events.find(id);
    return i == events.end() ? nullptr : &i->second;
  }
  void add(const std::string& id, dag_event e) {
    absent.erase(id);
    events[id] = std::move(e);
  }
};

struct remote_run {
  remote_context& ctx;
  const msg::send_events& req;
  room_cache& rc;
  built_request& out;
  known_events known;
  /// The state after events of this request (their groups are not stored yet).
  std::map<std::string, matrix::state_map> after_states;
  /// Forward extremities a join replaces (a room this server had left):
  /// dropped with it.
  std::vector<std::string> dropped_extremities;
  /// Redactions stored before their targets, by target (read once).
  std::map<std::string, std::vector<storage::events_store::pending_redaction>> pending;
  /// The groups (and chain lengths) of this request's events.
  std::map<std::string, std::pair<int64_t, int>> groups;

  /// Everything `pdus` name, read at once (a request's events mostly name
  /// each other and the same few auth events), and the redactions waiting
  /// for them.
  void read_named(const std::vector<json>& pdus) {
    std::vector<std::string> named;
    for (auto& p : pdus) {
      if (!p.is_object()) continue;
      named.push_back(p.value("event_id", ""));
      for (auto* key : {"prev_events", "auth_events"})
        for (auto& id : ref_ids(p, key)) named.push_back(id);
    }
    std::sort(named.begin(), named.end());
    named.erase(std::unique(named.begin(), named.end()), named.end());
    known.prefetch(named);
    read_pending(pdus);
  }

  /// The state after prev events this server lacks, as the request gives it.
  void read_prev_states() {
    for (auto& text : req.prev_states) {
      auto j = json::parse(text, nullptr, false);
      if (!j.is_object() || !j.value("event_id", json()).is_string() || !j.value("state", json()).is_array())
        continue;
      matrix::state_map ids;
      for (auto& row : j["state"])
        if (row.is_array() && row.size() == 3 && row[0].is_string() && row[1].is_string() && row[2].is_string())
          ids[{row[0].get<std::string>(), row[1].get<std::string>()}] = row[2].get<std::string>();
      after_states[j["event_id"].get<std::string>()] = std::move(ids);
    }
  }

  void read_pending(const std::vector<json>& pdus) {
    if (!rc.pending_redactions) return;
    std::vector<std::string> ids;
    for (auto& p : pdus)
      if (p.is_object()) ids.push_back(p.value("event_id", ""));
    for (auto& r : ctx.store.pending_redactions(ids)) pending[r.redacts].push_back(std::move(r));
  }

  /// A redaction `p` (of `ev`, authorised against `before`): applied to its
  /// target when the spec's rule allows, or kept for a target not known yet.
  /// A redaction from backfilled history (`history`) redacts only history:
  /// the state it was checked against is what another server said, never
  /// checked against the room's current state (step 6), so it may not
  /// reach into the timeline this server lived.
  void redaction(storage::event_to_persist& p, const json& ev, const matrix::auth_state& before, bool history) {
    const auto& v = *rc.version;
    std::string target_id = v.v11_rules ? ev.value("content", json::object()).value("redacts", "")
                                        : ev.value("redacts", "");
    if (target_id.empty()) return;
    auto t = known.find(target_id);
    if (!t) {
      rc.pending_redactions = true;
      p.pending_redacts = target_id;
      p.pending_by_power = matrix::redaction_allowed(ev, json::object(), before);
      // The target may come later in this same request.
      pending[target_id].push_back({target_id, ev, p.pending_by_power, p.stream_ordering});
      return;
    }
    bool target_ok = t->place == storage::event_place::backfilled ||
                     (t->place == storage::event_place::timeline && !history);
    if (target_ok &&
        t->rejected.empty() && t->json.value("room_id", "") == req.room_id &&
        matrix::redaction_allowed(ev, t->json, before)) {
      p.redacts = target_id;
      auto red = matrix::redact(t->json, v);
      json because = ev;
      because.erase("unsigned");
      red["unsigned"] = {{"redacted_because", because}};
      p.redacted_json = red.dump();
    }
  }

  /// `p` (of `ev`) stored redacted when a redaction of it came first (one
  /// from backfilled history only when `p` is history too).
  void redacted_on_arrival(storage::event_to_persist& p, const json& ev, bool history) {
    auto i = pending.find(p.event_id);
    if (i == pending.end()) return;
    for (auto& r : i->second) {
      if (r.redaction.value("room_id", "") != req.room_id) continue;
      if (r.position < 0 && !history) continue;
      auto a = matrix::server_of(r.redaction.value("sender", ""));
      if (!r.by_power && (a.empty() || a != matrix::server_of(ev.value("sender", "")))) continue;
      auto red = matrix::redact(ev, *rc.version);
      json because = r.redaction;
      because.erase("unsigned");
      red["unsigned"] = {{"redacted_because", because}};
      p.json = red.dump();
      p.redacted_by = r.redaction.value("event_id", "");
      return;
    }
  }

  /// The state before `ev` from its prev events (this request's, stored
  /// ones with their state, or those given in prev_states), resolved when
  /// they differ; its group when that is a single known group. "missing:
  /// ..." or "rejected: ..." when there is none.
  std::string state_from_prevs(const std::vector<std::string>& prevs, matrix::auth_state* before,
                               int64_t* before_group, int* before_chain) {
    std::vector<matrix::state_map> sets;
    int64_t single_group = 0;
    int single_chain = max_group_chain;
    known.prefetch(prevs);
    for (auto& p : prevs) {
      auto a = after_states.find(p);
      if (a != after_states.end()) {
        sets.push_back(a->second);
        auto g = groups.find(p);
        single_group = g == groups.end() ? 0 : g->second.first;
        single_chain = g == groups.end() ? max_group_chain : g->second.second;
        continue;
      }
      auto e = known.find(p);
      if (!e) return "missing: prev event " + p + " is not known";
      if (!e->rejected.empty()) continue; // a rejected event has no state to offer
      if ((e->place == storage::event_place::join_state || e->place == storage::event_place::outlier) && !e->state_group)
        return "missing: the state after prev event " + p + " is not known";
      auto s = ctx.store.state_after(p);
      if (!s) return "missing: the state after prev event " + p + " is not known";
      single_group = e->state_group;
      single_chain = max_group_chain; // its chain length is not known: next one whole
      sets.push_back(std::move(*s));
    }
    if (prevs.empty()) { // the room's create event: nothing before it
      before->clear();
      *before_group = 0;
      *before_chain = 0;
      return "";
    }
    if (sets.empty()) return "rejected: no prev event can be used";
    matrix::state_map ids;
    if (sets.size() == 1) {
      ids = std::move(sets[0]);
      *before_group = single_group;
      *before_chain = single_chain;
    } else {
      std::string why;
      auto r = resolve(sets, &why);
      if (!r) return "rejected: " + why;
      ids = std::move(*r);
      *before_group = 0;
      *before_chain = 0;
    }
    *before = load(ids);
    return "";
  }

  /// An event of the state given at our join, met again in history: it
  /// stays where it is, and gets the state group its prev events give it
  /// (the events after it need the state after it).
  void state_of_join_state(const json& ev, int64_t pos) {
    matrix::auth_state before;
    int64_t before_group = 0;
    int before_chain = 0;
    if (!state_from_prevs(ref_ids(ev, "prev_events"), &before, &before_group, &before_chain).empty()) return;
    auto p = base(ev);
    p.place = storage::event_place::join_state;
    p.only_group = true;
    p.stream_ordering = pos; // the id of its group
    p.timeline_ordering = pos;
    matrix::auth_state after = std::move(before);
    after[{p.type, p.state_key.value_or("")}] = ev;
    int64_t group = 0;
    int chain = 0;
    assign_group(p, true, ev, before_group, before_chain, after, &group, &chain);
    auto id = p.event_id;
    after_states[id] = state_ids(after);
    groups[id] = {group, chain};
    out.reply.event_ids.push_back(id); // new in the timeline
    keep(ev, std::move(p));
  }

  /// One event of history (backfill): steps 4-5, then stored at `pos`.
  std::string place_history(const json& ev, int64_t pos) {
    auto id = ev.value("event_id", "");
    if (auto have = known.find(id)) {
      if (!have->rejected.empty()) return "rejected: " + have->rejected;
      if (have->place == storage::event_place::join_state && !have->state_group) state_of_join_state(ev, pos);
      // Known only as an outlier (an auth event, state fetched for a gap):
      // now it has a place in the timeline.
      if (have->place != storage::event_place::outlier || have->soft_failed) return "";
    }
    if (auto why = check_own_auth(ev)) {
      if (why->rfind("missing:", 0) == 0) return *why;
      store_outlier(ev, *why);
      return "rejected: " + *why;
    }
    auto prevs = ref_ids(ev, "prev_events");
    matrix::auth_state before;
    int64_t before_group = 0;
    int before_chain = 0;
    auto why = state_from_prevs(prevs, &before, &before_group, &before_chain);
    if (!why.empty()) return why;
    if (auto bad = matrix::check_auth(ev, before, *rc.version)) {
      store_outlier(ev, "against the state before it: " + *bad);
      return "rejected: against the state before it: " + *bad;
    }
    bool is_state = ev.contains("state_key") && ev["state_key"].is_string();
    auto p = base(ev);
    p.place = storage::event_place::backfilled;
    p.local_member = false;
    p.stream_ordering = pos;
    matrix::auth_state after = std::move(before);
    if (p.type == "m.room.redaction") redaction(p, ev, after, true);
    redacted_on_arrival(p, ev, true);
    if (is_state) after[{p.type, *p.state_key}] = ev;
    int64_t group = 0;
    int chain = 0;
    assign_group(p, is_state, ev, before_group, before_chain, after, &group, &chain);
    after_states[id] = state_ids(after);
    groups[id] = {group, chain};
    p.prev_events = prevs;
    out.reply.event_ids.push_back(id);
    keep(ev, std::move(p));
    return "";
  }

  /// Full events for a state map; entries not known are left out.
  matrix::auth_state load(const matrix::state_map& ids) {
    std::vector<std::string> all;
    for (auto& [k, id] : ids) all.push_back(id);
    known.prefetch(all);
    matrix::auth_state s;
    for (auto& [k, id] : ids)
      if (auto e = known.find(id)) s.emplace(k, e->json);
    return s;
  }

  std::optional<matrix::state_map> resolve(const std::vector<matrix::state_map>& sets, std::string* why) {
    matrix::state_res_events src;
    src.get = [this](const std::string& id) -> const json* {
      auto e = known.find(id);
      return e ? &e->json : nullptr;
    };
    src.rejected = [this](const std::string& id) {
      auto e = known.find(id);
      return e && !e->rejected.empty();
    };
    return matrix::resolve_state(*rc.version, sets, src, why);
  }

  /// Step 4: nullopt when `ev` passes the auth rules against its own
  /// auth_events; else why not ("missing: ..." when one is not known).
  std::optional<std::string> check_own_auth(const json& ev) {
    auto ids = ref_ids(ev, "auth_events");
    known.prefetch(ids);
    auto expected = matrix::auth_types_for_event(ev, *rc.version);
    matrix::auth_state by_auth;
    for (auto& id : ids) {
      auto e = known.find(id);
      if (!e) return "missing: auth event " + id + " is not known";
      if (!e->rejected.empty()) return std::string("auth event ") + id + " was rejected";
      matrix::state_key_pair key{e->json.value("type", ""), e->json.value("state_key", "")};
      if (by_auth.count(key)) return std::string("two auth events for (") + key.first + ", " + key.second + ")";
      if (std::find(expected.begin(), expected.end(), key) == expected.end())
        return std::string("auth event ") + id + " is not one this event needs";
      by_auth.emplace(std::move(key), e->json);
    }
    return matrix::check_auth(ev, by_auth, *rc.version);
  }

  /// `p` (built from `ev`) goes into the request's writes, and is known as
  /// such to the rest of the request. An event stored before that only
  /// gains its group keeps its position.
  void keep(const json& ev, storage::event_to_persist p) {
    dag_event d;
    d.json = ev;
    d.place = p.place;
    d.rejected = p.rejected;
    d.soft_failed = p.soft_failed;
    d.state_group = p.state_group;
    if (p.only_group) {
      auto had = known.find(p.event_id);
      d.stream_ordering = had ? had->stream_ordering : 0;
    } else if (p.place != storage::event_place::outlier) {
      d.stream_ordering = p.stream_ordering;
    }
    known.add(p.event_id, std::move(d));
    out.events.push_back(std::move(p));
  }

  /// Stores `ev` as an outlier, rejected for `why` (or not, when empty).
  void store_outlier(const json& ev, const std::string& why) {
    storage::event_to_persist p;
    p.place = storage::event_place::outlier;
    p.event_id = ev.value("event_id", "");
    p.room_id = req.room_id;
    p.type = ev.value("type", "");
    p.sender = ev.value("sender", "");
    p.origin_server_ts = ctx.now_ms;
    p.rejected = why;
    p.json = ev.dump();
    keep(ev, std::move(p));
  }

  storage::event_to_persist base(const json& ev) {
    storage::event_to_persist p;
    p.event_id = ev.value("event_id", "");
    p.room_id = req.room_id;
    p.type = ev.value("type", "");
    p.sender = ev.value("sender", "");
    if (ev.contains("state_key") && ev["state_key"].is_string()) p.state_key = ev["state_key"].get<std::string>();
    p.depth = ev.value("depth", int64_t{0});
    p.origin_server_ts = ev.value("origin_server_ts", int64_t{0});
    if (p.type == "m.room.member" && p.state_key) {
      auto c = ev.find("content");
      if (c != ev.end() && c->is_object()) p.membership = c->value("membership", "");
      p.local_member = matrix::server_of(*p.state_key) == ctx.server_name;
    }
    p.json = ev.dump();
    return p;
  }

  /// Auth chains and the state of a join: each checked against its own
  /// auth events, oldest first. The accepted join_state events go into
  /// `join_state`.
  void place_outliers(matrix::auth_state& join_state) {
    std::vector<json> all;
    std::set<std::string> state_ids_given;
    auto parse_into = [&](const std::vector<std::string>& texts, bool is_state) {
      for (auto& t : texts) {
        auto ev = json::parse(t, nullptr, false);
        if (!ev.is_object() || !ev.contains("event_id")) continue;
        if (is_state) state_ids_given.insert(ev.value("event_id", ""));
        all.push_back(std::move(ev));
      }
    };
    parse_into(req.join_state, true);
    parse_into(req.outliers, false);
    // Oldest first (an event's auth events have lower depths), each once.
    std::stable_sort(all.begin(), all.end(), [](const json& a, const json& b) {
      return a.value("depth", int64_t{0}) < b.value("depth", int64_t{0});
    });
    std::set<std::string> seen;
    std::vector<std::string> ids;
    for (auto& ev : all) ids.push_back(ev.value("event_id", ""));
    known.prefetch(ids);
    // Auth events can sit at the same depth as what they authorise (a
    // hostile or odd server); passes until nothing more is placed.
    std::vector<const json*> pending;
    for (auto& ev : all)
      if (seen.insert(ev.value("event_id", "")).second) pending.push_back(&ev);
    while (!pending.empty()) {
      std::vector<const json*> later;
      for (auto* evp : pending) {
        auto& ev = *evp;
        auto id = ev.value("event_id", "");
        bool is_state = state_ids_given.count(id) > 0;
        if (auto have = known.find(id)) {
          if (is_state && have->rejected.empty())
            join_state[{ev.value("type", ""), ev.value("state_key", "")}] = have->json;
          continue;
        }
        auto why = check_own_auth(ev);
        if (why && why->rfind("missing:", 0) == 0) {
          later.push_back(evp);
          continue;
        }
        if (why) {
          store_outlier(ev, *why);
          continue;
        }
        if (!is_state) {
          store_outlier(ev, "");
          continue;
        }
        auto p = base(ev);
        p.place = storage::event_place::join_state;
        p.stream_ordering = ctx.next_position();
        if (p.type == "m.room.create" && p.state_key && p.state_key->empty()) p.room_version = rc.version->id;
        join_state[{ev.value("type", ""), ev.value("state_key", "")}] = ev;
        keep(ev, std::move(p));
      }
      if (later.size() == pending.size()) {
        // Their auth events never came: refused, not stored (they may come
        // with another request).
        break;
      }
      pending = std::move(later);
    }
  }

  /// Steps 4-6 for one PDU; "" when it joined the timeline or was known.
  std::string place_pdu(const json& ev, const matrix::auth_state* given_before) {
    auto id = ev.value("event_id", "");
    if (auto have = known.find(id)) return have->rejected.empty() ? "" : "rejected: " + have->rejected;
    if (auto why = check_own_auth(ev)) {
      if (why->rfind("missing:", 0) == 0) return *why;
      store_outlier(ev, *why);
      return "rejected: " + *why;
    }
    const auto& v = *rc.version;
    auto prevs = ref_ids(ev, "prev_events");
    // The common case: the event extends every forward extremity (or is
    // our join, whose state the room was given): the state before it is
    // the room's current state, used in place.
    bool extends = given_before || same_set(prevs, rc.extremities);
    const matrix::auth_state* before = &rc.state;
    matrix::auth_state resolved;
    int64_t before_group = extends ? rc.group : 0;
    int before_chain = extends ? rc.chain : 0;
    if (!extends) {
      std::vector<matrix::state_map> sets;
      int64_t single_group = 0;
      known.prefetch(prevs);
      for (auto& p : prevs) {
        auto a = after_states.find(p);
        if (a != after_states.end()) {
          sets.push_back(a->second);
          continue;
        }
        if (rc.extremities.size() == 1 && rc.extremities[0] == p) {
          // The room's state is the state after its only extremity.
          sets.push_back(state_ids(rc.state));
          single_group = rc.group;
          continue;
        }
        auto e = known.find(p);
        if (!e) return "missing: prev event " + p + " is not known";
        if (!e->rejected.empty()) continue; // a rejected event has no state to offer
        auto s = ctx.store.state_after(p);
        if (!s) return "missing: the state after prev event " + p + " is not known";
        single_group = e->state_group;
        sets.push_back(std::move(*s));
      }
      if (sets.empty()) return "rejected: no prev event can be used";
      matrix::state_map ids;
      if (sets.size() == 1) {
        ids = std::move(sets[0]);
        before_group = single_group;
      } else {
        std::string why;
        auto r = resolve(sets, &why);
        if (!r) return "rejected: " + why;
        ids = std::move(*r);
      }
      resolved = load(ids);
      before = &resolved;
      if (before_group) before_chain = max_group_chain; // its chain length is not known: next one whole
    }
    if (auto why = matrix::check_auth(ev, *before, v)) {
      store_outlier(ev, "against the state before it: " + *why);
      return "rejected: against the state before it: " + *why;
    }
    bool is_state = ev.contains("state_key") && ev["state_key"].is_string();
    matrix::state_key_pair key{ev.value("type", ""), is_state ? ev["state_key"].get<std::string>() : ""};
    auto p = base(ev);
    p.stream_ordering = ctx.next_position(); // also the id of a group it makes
    if (!extends) {
      if (auto why = matrix::check_auth(ev, rc.state, v)) {
        // Step 6: soft failure. Kept with its state (later events may name
        // it), out of the timeline.
        matrix::auth_state after = *before;
        if (is_state) after[key] = ev;
        int64_t g = 0;
        int c = 0;
        assign_group(p, is_state, ev, before_group, before_chain, after, &g, &c);
        after_states[id] = state_ids(after);
        p.place = storage::event_place::outlier;
        p.soft_failed = true;
        keep(ev, std::move(p));
        return "soft-failed: " + *why;
      }
    }
    // Redactions apply when the spec's rule allows (the target is known),
    // or wait for their target.
    if (p.type == "m.room.redaction") redaction(p, ev, *before, false);
    redacted_on_arrival(p, ev, false);
    if (ctx.push) p.push_actions = ctx.push(ev, *before);
    p.prev_events = prevs;
    if (given_before) {
      p.prev_events.insert(p.prev_events.end(), dropped_extremities.begin(), dropped_extremities.end());
      dropped_extremities.clear();
    }

    // The room moves on.
    std::vector<std::string> ex, hashes;
    for (size_t i = 0; i < rc.extremities.size(); ++i)
      if (std::find(prevs.begin(), prevs.end(), rc.extremities[i]) == prevs.end()) {
        ex.push_back(rc.extremities[i]);
        if (i < rc.extremity_hashes.size()) hashes.push_back(rc.extremity_hashes[i]);
      }
    ex.push_back(id);
    if (v.format == matrix::event_format::v1) hashes.push_back(matrix::compute_reference_hash(ev, v));
    rc.extremities = std::move(ex);
    rc.extremity_hashes = std::move(hashes);
    rc.depth = std::max(rc.depth, p.depth);
    int64_t group = 0;
    int chain = 0;
    if (extends) {
      // The state after it is the room's state from now on.
      if (is_state) rc.state[key] = ev;
      assign_group(p, is_state, ev, before_group, before_chain, rc.state, &group, &chain);
      rc.group = group;
      rc.chain = chain;
    } else {
      matrix::auth_state after = *before;
      if (is_state) after[key] = ev;
      assign_group(p, is_state, ev, before_group, before_chain, after, &group, &chain);
      after_states[id] = state_ids(after);
      auto old_state = std::move(rc.state);
      if (rc.extremities.size() == 1) {
        rc.state = std::move(after);
        rc.group = group;
        rc.chain = chain;
      } else {
        std::string why;
        auto r = resolve({state_ids(old_state), after_states[id]}, &why);
        rc.state = r ? load(*r) : std::move(after);
        rc.group = 0;
        rc.chain = 0;
      }
      // More than the event's own key may have changed.
      std::vector<storage::current_state_change> changes;
      auto now = state_ids(rc.state);
      auto was = state_ids(old_state);
      for (auto& [k, eid] : now) {
        auto w = was.find(k);
        if (w != was.end() && w->second == eid) continue;
        storage::current_state_change ch;
        ch.type = k.first;
        ch.state_key = k.second;
        ch.event_id = eid;
        auto& full = rc.state[k];
        if (k.first == "m.room.member") {
          auto c = full.find("content");
          if (c != full.end() && c->is_object()) ch.membership = c->value("membership", "");
          ch.local_member = matrix::server_of(k.second) == ctx.server_name;
        }
        auto kn = eid == id ? nullptr : known.find(eid);
        ch.stream_ordering = kn && kn->stream_ordering ? kn->stream_ordering : p.stream_ordering;
        changes.push_back(std::move(ch));
      }
      for (auto& [k, eid] : was)
        if (!now.count(k)) changes.push_back({k.first, k.second, "", "", p.stream_ordering, false});
      p.current_state = std::move(changes);
    }
    if (p.type == "m.room.member") rc.servers_stale = true;
    if (req.relay) {
      for (auto& s : joined_servers(rc.state, ctx.server_name))
        if (s != req.origin) p.destinations.push_back(s);
    }
    msg::events_row row{p.stream_ordering, id, req.room_id, p.type, is_state, p.state_key.value_or(""),
                        p.membership};
    out.rows.push_back(std::move(row));
    out.reply.event_ids.push_back(id);
    out.reply.stream_pos = p.stream_ordering;
    keep(ev, std::move(p));
    return "";
  }
};

} // namespace

std::optional<std::pair<errc, std::string>> accept_remote(remote_context& ctx, const msg::send_events& req,
                                                          room_cache& rc, built_request& out) {
  remote_run run{ctx, req, rc, out, known_events{ctx.store, {}, {}}, {}, {}, {}, {}};
  matrix::auth_state join_state;
  run.place_outliers(join_state);
  run.read_prev_states();
  std::optional<matrix::auth_state> given;
  std::vector<json> pdus;
  for (auto& t : req.pdus) pdus.push_back(json::parse(t, nullptr, false));
  run.read_named(pdus);
  if (req.new_room) {
    auto create = join_state.find({"m.room.create", ""});
    if (create == join_state.end())
      return std::make_pair(errc::bad_json, "the room's state has no m.room.create event");
    if (pdus.empty() || !pdus[0].is_object()) return std::make_pair(errc::bad_json, "no event to join with");
    // The room starts where the first event (our join) does.
    run.dropped_extremities = rc.extremities;
    rc.state = join_state;
    rc.extremities = ref_ids(pdus[0], "prev_events");
    rc.extremity_hashes.clear();
    if (rc.version->format == matrix::event_format::v1)
      for (auto& ref : pdus[0]["prev_events"])
        if (ref.is_array() && ref.size() > 1 && ref[1].is_object())
          rc.extremity_hashes.push_back(ref[1].value("sha256", ""));
    rc.depth = pdus[0].value("depth", int64_t{1}) - 1;
    given = join_state;
  }
  for (size_t i = 0; i < pdus.size(); ++i) {
    if (!pdus[i].is_object()) {
      out.reply.pdu_errors.push_back("not a JSON object");
      continue;
    }
    auto why = run.place_pdu(pdus[i], i == 0 && given ? &*given : nullptr);
    if (i == 0 && req.new_room && !why.empty())
      return std::make_pair(errc::forbidden, "the join could not be placed: " + why);
    out.reply.pdu_errors.push_back(std::move(why));
  }
  return std::nullopt;
}

std::optional<std::pair<errc, std::string>> accept_backfill(remote_context& ctx, const msg::send_events& req,
                                                            room_cache& rc, built_request& out) {
  remote_run run{ctx, req, rc, out, known_events{ctx.store, {}, {}}, {}, {}, {}, {}};
  matrix::auth_state unused;
  run.place_outliers(unused);
  run.read_prev_states();
  std::vector<json> pdus;
  for (auto& t : req.pdus) pdus.push_back(json::parse(t, nullptr, false));
  // Oldest first: each event's prev events before it.
  std::vector<size_t> order(pdus.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    auto da = pdus[a].is_object() ? pdus[a].value("depth", int64_t{0}) : 0;
    auto db = pdus[b].is_object() ? pdus[b].value("depth", int64_t{0}) : 0;
    return da < db;
  });
  run.read_named(pdus);
  auto positions = pdus.empty() ? std::vector<int64_t>{} : ctx.backfill_positions(pdus.size());
  out.reply.pdu_errors.assign(pdus.size(), "");
  size_t next = 0;
  for (auto i : order) {
    if (!pdus[i].is_object()) {
      out.reply.pdu_errors[i] = "not a JSON object";
      continue;
    }
    if (pdus[i].value("room_id", "") != req.room_id) {
      out.reply.pdu_errors[i] = "not an event of this room";
      continue;
    }
    out.reply.pdu_errors[i] = run.place_history(pdus[i], positions[next++]);
  }
  return std::nullopt;
}

bool out_of_band(const msg::send_events& req) {
  return req.pdus.empty() && req.outliers.empty() && req.drafts.empty() && !req.new_room && req.join_state.size() == 1;
}

std::optional<std::pair<errc, std::string>> accept_out_of_band(remote_context& ctx, const msg::send_events& req,
                                                               built_request& out) {
  auto ev = json::parse(req.join_state[0], nullptr, false);
  if (!ev.is_object() || ev.value("type", "") != "m.room.member" || !ev.contains("state_key") ||
      !ev["state_key"].is_string() || ev.value("room_id", "") != req.room_id || !ev.contains("event_id"))
    return std::make_pair(errc::bad_json, "not a membership event of this room");
  auto user = ev["state_key"].get<std::string>();
  if (matrix::server_of(user) != ctx.server_name)
    return std::make_pair(errc::forbidden, "an out-of-band membership is for this server's users");
  auto id = ev.value("event_id", "");
  if (!ctx.store.dag_events({id}).empty()) {
    out.reply.event_ids.push_back(id);
    return std::nullopt;
  }
  storage::event_to_persist p;
  p.place = storage::event_place::join_state;
  p.event_id = id;
  p.room_id = req.room_id;
  p.type = "m.room.member";
  p.sender = ev.value("sender", "");
  p.state_key = user;
  p.depth = ev.value("depth", int64_t{0});
  p.origin_server_ts = ev.value("origin_server_ts", int64_t{0});
  p.membership = ev.value("content", json::object()).value("membership", "");
  p.local_member = true;
  p.json = ev.dump();
  p.stream_ordering = ctx.next_position();
  out.rows.push_back({p.stream_ordering, id, req.room_id, p.type, true, user, p.membership});
  out.reply.event_ids.push_back(id);
  out.reply.stream_pos = p.stream_ordering;
  out.events.push_back(std::move(p));
  return std::nullopt;
}

} // namespace axon::actors
