#include "matrix/state_res.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <queue>
#include <unordered_map>
#include <utility>

namespace axon::matrix {

namespace {

using json = nlohmann::json;
using node_id = uint32_t;

constexpr const char* create_type = "m.room.create";
constexpr const char* member_type = "m.room.member";
constexpr const char* power_levels_type = "m.room.power_levels";
constexpr const char* join_rules_type = "m.room.join_rules";

// ---------------------------------------------------------------- JSON access

const std::string* string_field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

/// An integer field (origin_server_ts, depth); 0 when absent or not a number.
int64_t int_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return 0;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

/// The ids in `auth_events`: plain (v3+ formats) or [id, {hashes}] pairs (v1/v2).
std::vector<std::string> auth_event_ids(const json& ev) {
  std::vector<std::string> ids;
  auto it = ev.find("auth_events");
  if (it == ev.end() || !it->is_array()) return ids;
  for (const json& entry : *it) {
    const json& id = entry.is_array() && !entry.empty() ? entry[0] : entry;
    if (id.is_string()) ids.push_back(id.get<std::string>());
  }
  return ids;
}

// ---------------------------------------------------------------- the event graph

/// One event id met during a resolution.
struct node {
  std::string id;
  const json* ev = nullptr;               ///< nullptr: the caller does not know it
  const std::string* type = nullptr;      ///< with state_key, set for state events only
  const std::string* state_key = nullptr;
  const std::string* sender = nullptr;
  int64_t ts = 0;                         ///< origin_server_ts
  bool rejected = false;
  bool auth_loaded = false;
  std::vector<node_id> auth;              ///< the known auth events, as listed
  /// A copy of `*ev` lent to auth_state maps (see lend_state): check_auth
  /// takes events by value in a map, and copying a large power levels event
  /// for every check would dominate the run time.
  json owned;

  bool is_state() const { return type != nullptr; }
  bool is(const char* t) const { return type && *type == t && state_key->empty(); }
};

/// The events of one resolution, each fetched once, by small integer ids.
class event_graph {
public:
  explicit event_graph(const state_res_events& events) : events_(events) {}

  /// The node of a known event, or nullopt.
  std::optional<node_id> find(const std::string& id) {
    auto [it, added] = index_.try_emplace(id, static_cast<node_id>(nodes_.size()));
    if (added) load(id);
    const node& n = nodes_[it->second];
    return n.ev ? std::optional<node_id>(it->second) : std::nullopt;
  }

  node& at(node_id n) { return nodes_[n]; }
  size_t size() const { return nodes_.size(); }

  /// The known auth events of `n`, fetched on first use.
  const std::vector<node_id>& auth_of(node_id n) {
    if (!nodes_[n].auth_loaded) {
      nodes_[n].auth_loaded = true;
      std::vector<node_id> auth;
      for (const std::string& id : auth_event_ids(*nodes_[n].ev))
        if (auto a = find(id)) auth.push_back(*a);
      nodes_[n].auth = std::move(auth);  // std::deque: find() left nodes_[n] in place
    }
    return nodes_[n].auth;
  }

  /// The first known auth event of `n` with (type, "") as its key.
  std::optional<node_id> auth_of_type(node_id n, const char* type) {
    for (node_id a : auth_of(n))
      if (nodes_[a].is(type)) return a;
    return std::nullopt;
  }

  json& owned(node_id n) {
    node& e = nodes_[n];
    if (e.owned.is_null()) e.owned = *e.ev;
    return e.owned;
  }

private:
  void load(const std::string& id) {
    node& n = nodes_.emplace_back();
    n.id = id;
    const json* ev = events_.get(id);
    if (!ev || !ev->is_object()) return;
    n.ev = ev;
    const std::string* type = string_field(*ev, "type");
    const std::string* state_key = string_field(*ev, "state_key");
    if (type && state_key) n.type = type, n.state_key = state_key;
    n.sender = string_field(*ev, "sender");
    n.ts = int_field(*ev, "origin_server_ts");
    n.rejected = events_.rejected && events_.rejected(id);
  }

  const state_res_events& events_;
  std::deque<node> nodes_;  // a deque: references stay valid as nodes are added
  std::unordered_map<std::string, node_id> index_;
};

/// Entries for an auth_state, each at most once per key.
using auth_entries = std::vector<std::pair<state_key_pair, node_id>>;

void put_entry(auth_entries& entries, state_key_pair key, node_id n) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.first == key; });
  if (it != entries.end()) it->second = n;
  else entries.emplace_back(std::move(key), n);
}

/// Calls `f(state)` with an auth_state built from `entries`, the events
/// moved in from their nodes' copies and moved back afterwards.
template <class F>
auto lend_state(event_graph& g, const auth_entries& entries, F f) {
  auth_state state;
  std::vector<bool> lent(entries.size(), false);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [key, n] = entries[i];
    bool twice = false;  // one event under two keys: only when the input is inconsistent
    for (size_t j = 0; j < i && !twice; ++j) twice = entries[j].second == n;
    lent[i] = !twice;
    if (twice) state.emplace(key, *g.at(n).ev);
    else state.emplace(key, std::move(g.owned(n)));  // not `?:`, which would copy
  }
  auto result = f(static_cast<const auth_state&>(state));
  for (size_t i = 0; i < entries.size(); ++i)
    if (lent[i]) g.at(entries[i].second).owned = std::move(state.find(entries[i].first)->second);
  return result;
}

bool passes(event_graph& g, node_id n, const auth_entries& entries, const room_version& v) {
  return lend_state(g, entries, [&](const auth_state& state) {
    return !check_auth(*g.at(n).ev, state, v).has_value();
  });
}

// ---------------------------------------------------------------- common steps

/// Keys whose value differs between the sets, with every value given.
using conflicts = std::map<state_key_pair, std::vector<std::string>>;

/// Splits the sets into the unconflicted state map and the conflicted state
/// set. `absent_conflicts`: a key missing from some set is conflicted (v2);
/// in v1 only different values conflict.
std::pair<state_map, conflicts> separate(const std::vector<state_map>& sets,
                                         bool absent_conflicts) {
  std::map<state_key_pair, std::pair<std::vector<const std::string*>, size_t>> seen;
  for (const state_map& set : sets)
    for (const auto& [key, id] : set) {
      auto& [values, count] = seen[key];
      ++count;
      if (std::find_if(values.begin(), values.end(), [&](auto* s) { return *s == id; }) ==
          values.end())
        values.push_back(&id);
    }
  std::pair<state_map, conflicts> out;
  for (auto& [key, entry] : seen) {
    const auto& [values, count] = entry;
    if (values.size() == 1 && (count == sets.size() || !absent_conflicts)) {
      out.first.emplace(key, *values[0]);
    } else {
      auto& ids = out.second[key];
      for (const std::string* id : values) ids.push_back(*id);
    }
  }
  return out;
}

/// Whether every event belongs to one room (Synapse refuses otherwise).
bool same_room(event_graph& g, const std::vector<node_id>& events, std::string* why) {
  if (events.empty()) return true;
  const node& first = g.at(events[0]);
  const std::string* room = string_field(*first.ev, "room_id");
  for (node_id n : events) {
    const std::string* r = string_field(*g.at(n).ev, "room_id");
    if (!r || !room || *r != *room) {
      if (why)
        *why = "event " + g.at(n).id + " is in room " + (r ? *r : "(none)") + ", event " +
               first.id + " in " + (room ? *room : "(none)");
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- v2

/// State resolution v2 (rooms/fragments/v2-state-res).
class resolver_v2 {
public:
  resolver_v2(const room_version& v, event_graph& g) : v_(v), g_(g) {}

  std::optional<state_map> run(const std::vector<state_map>& sets, std::string* why) {
    auto [unconflicted, conflicted] = separate(sets, true);
    if (conflicted.empty()) return unconflicted;

    // Full conflicted set: the conflicted state set and the auth difference,
    // limited to known state events.
    std::vector<node_id> full = auth_difference(sets);
    for (const auto& [key, ids] : conflicted)
      for (const std::string& id : ids)
        if (auto n = g_.find(id)) full.push_back(*n);
    grow();
    std::vector<node_id> fcs;
    for (node_id n : full)
      if (g_.at(n).is_state() && !in_fcs_[n]) in_fcs_[n] = 1, fcs.push_back(n);
    if (!same_room(g_, fcs, why)) return std::nullopt;

    // Step 1: the power events and the part of their auth chains in the full
    // conflicted set, in reverse topological power ordering.
    std::vector<node_id> power;
    std::vector<char> in_power(g_.size(), 0);
    for (node_id n : fcs)
      if (is_power_event(g_.at(n))) in_power[n] = 1, power.push_back(n);
    for (size_t i = 0; i < power.size(); ++i)
      for (node_id a : below(power[i]))
        if (!in_power[a]) in_power[a] = 1, power.push_back(a);
    // Step 2.
    state_map state = unconflicted;
    iterative_auth_checks(power_sort(power), state);

    // Steps 3 and 4: the other events in mainline order.
    std::vector<node_id> rest;
    for (node_id n : fcs)
      if (!in_power[n]) rest.push_back(n);
    iterative_auth_checks(mainline_sort(std::move(rest), state), state);

    // Step 5.
    for (auto& [key, id] : unconflicted) state[key] = std::move(id);
    return state;
  }

private:
  void grow() {
    in_fcs_.resize(g_.size(), 0);
    below_state_.resize(g_.size(), 0);
    below_.resize(g_.size());
  }

  /// Power events: power levels, join rules, kicks and bans; m.room.create
  /// too, as in Synapse (it is in the auth chain of every other event, so
  /// this matters only when nothing else conflicts).
  static bool is_power_event(const node& e) {
    if (e.is(power_levels_type) || e.is(join_rules_type) || e.is(create_type)) return true;
    if (*e.type != member_type) return false;
    auto content = e.ev->find("content");
    if (content == e.ev->end()) return false;
    const std::string* m = string_field(*content, "membership");
    return m && (*m == "leave" || *m == "ban") && (!e.sender || *e.sender != *e.state_key);
  }

  /// ∪ C_i − ∩ C_i, where C_i is everything reachable from set i's events
  /// through auth_events, the events themselves included (as Synapse).
  /// One walk per set, so linear in the size of the auth chains.
  std::vector<node_id> auth_difference(const std::vector<state_map>& sets) {
    std::vector<uint32_t> count, last_set;
    std::vector<node_id> stack;
    auto fit = [&] {
      count.resize(g_.size(), 0);
      last_set.resize(g_.size(), 0);
    };
    for (uint32_t s = 1; s <= sets.size(); ++s) {
      for (const auto& [key, id] : sets[s - 1])
        if (auto n = g_.find(id)) stack.push_back(*n);
      while (!stack.empty()) {
        node_id n = stack.back();
        stack.pop_back();
        fit();
        if (last_set[n] == s) continue;
        last_set[n] = s;
        ++count[n];
        for (node_id a : g_.auth_of(n)) stack.push_back(a);
      }
    }
    std::vector<node_id> diff;
    for (node_id n = 0; n < count.size(); ++n)
      if (count[n] > 0 && count[n] < sets.size()) diff.push_back(n);
    return diff;
  }

  /// The events of the full conflicted set nearest below `root` in the auth
  /// DAG: each auth event that is in the set, else (recursively) those below
  /// it. Their closure is the auth chain of `root` within the set, and the
  /// edges keep every ordering constraint the auth DAG gives among them.
  /// Memoised; iterative, so deep chains do not exhaust the stack; an auth
  /// cycle (only in forged input) is cut where it closes.
  const std::vector<node_id>& below(node_id root) {
    if (below_state_[root] == 2) return below_[root];
    std::vector<std::pair<node_id, size_t>> stack{{root, 0}};
    below_state_[root] = 1;
    while (!stack.empty()) {
      auto& top = stack.back();
      const node_id n = top.first;
      const std::vector<node_id>& auth = g_.auth_of(n);
      if (top.second < auth.size()) {
        node_id a = auth[top.second++];
        if (!in_fcs_[a] && below_state_[a] == 0) {
          below_state_[a] = 1;
          stack.emplace_back(a, 0);
        }
        continue;
      }
      std::vector<node_id> out;
      for (node_id a : auth) {
        if (in_fcs_[a]) out.push_back(a);
        else if (below_state_[a] == 2) out.insert(out.end(), below_[a].begin(), below_[a].end());
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      below_[n] = std::move(out);
      below_state_[n] = 2;
      stack.pop_back();
    }
    return below_[root];
  }

  /// The sender's power level from the event's own auth events (Synapse's
  /// _get_power_level_for_sender): the power levels there, else 100 for the
  /// room's creator, else 0.
  int64_t sender_level(node_id n) {
    const node& e = g_.at(n);
    if (!e.sender) return 0;
    auth_entries entries;
    for (const char* type : {create_type, power_levels_type})
      if (auto a = g_.auth_of_type(n, type)) entries.push_back({{type, ""}, *a});
    return lend_state(g_, entries,
                      [&](const auth_state& state) { return user_power_level(state, *e.sender); });
  }

  /// Reverse topological power ordering: Kahn's algorithm on the auth DAG,
  /// taking the smallest ready event each time by (sender's power level
  /// descending, origin_server_ts, event_id).
  std::vector<node_id> power_sort(const std::vector<node_id>& events) {
    std::unordered_map<node_id, int64_t> level;
    std::unordered_map<node_id, size_t> pending;  // auth events not yet output
    std::unordered_map<node_id, std::vector<node_id>> above;
    for (node_id n : events) {
      level[n] = sender_level(n);
      pending[n] = below(n).size();
      for (node_id a : below(n)) above[a].push_back(n);
    }
    auto later = [&](node_id a, node_id b) {  // a comes after b
      const node &x = g_.at(a), &y = g_.at(b);
      if (level[a] != level[b]) return level[a] < level[b];
      if (x.ts != y.ts) return x.ts > y.ts;
      return x.id > y.id;
    };
    std::priority_queue<node_id, std::vector<node_id>, decltype(later)> ready(later);
    for (node_id n : events)
      if (pending[n] == 0) ready.push(n);
    std::vector<node_id> order;
    while (!ready.empty()) {
      node_id n = ready.top();
      ready.pop();
      order.push_back(n);
      for (node_id p : above[n])
        if (--pending[p] == 0) ready.push(p);
    }
    return order;  // events on an auth cycle never become ready and are left out
  }

  /// Mainline ordering based on the power levels in `state`: by mainline
  /// position (the earlier the mainline event an event's power levels chain
  /// reaches, the sooner), then origin_server_ts, then event_id.
  std::vector<node_id> mainline_sort(std::vector<node_id> events, const state_map& state) {
    if (events.empty()) return events;
    // Depth 1 is the oldest mainline event; 0 means the chain meets no
    // mainline event (sorted first, as the spec's position ∞). Walked
    // events keep the depth found (memo); -1 marks a walk in progress.
    std::unordered_map<node_id, int64_t> depth;
    std::vector<node_id> mainline;
    auto pl = state.find({power_levels_type, ""});
    std::optional<node_id> p = pl == state.end() ? std::nullopt : g_.find(pl->second);
    for (; p && !depth.count(*p); p = g_.auth_of_type(*p, power_levels_type)) {
      depth[*p] = -1;
      mainline.push_back(*p);
    }
    for (size_t i = 0; i < mainline.size(); ++i)
      depth[mainline[i]] = static_cast<int64_t>(mainline.size() - i);
    auto depth_of = [&](node_id e) {
      std::vector<node_id> path;
      int64_t d = 0;
      for (std::optional<node_id> t = e; t; t = g_.auth_of_type(*t, power_levels_type)) {
        auto [it, added] = depth.try_emplace(*t, -1);
        if (!added) {
          d = std::max<int64_t>(it->second, 0);  // -1: a cycle back into this walk
          break;
        }
        path.push_back(*t);
      }
      for (node_id n : path) depth[n] = d;
      return d;
    };
    std::unordered_map<node_id, int64_t> key;
    for (node_id n : events) key[n] = depth_of(n);
    std::sort(events.begin(), events.end(), [&](node_id a, node_id b) {
      const node &x = g_.at(a), &y = g_.at(b);
      if (key[a] != key[b]) return key[a] < key[b];
      if (x.ts != y.ts) return x.ts < y.ts;
      return x.id < y.id;
    });
    return events;
  }

  /// Applies each event in turn when it passes the authorisation rules
  /// against its auth events overlaid with `state` for the keys it needs;
  /// rejected auth events are not used.
  void iterative_auth_checks(const std::vector<node_id>& order, state_map& state) {
    for (node_id n : order) {
      auth_entries entries;
      for (node_id a : g_.auth_of(n)) {
        const node& ae = g_.at(a);
        if (ae.is_state() && !ae.rejected) put_entry(entries, {*ae.type, *ae.state_key}, a);
      }
      for (auto& key : auth_types_for_event(*g_.at(n).ev, v_)) {
        auto it = state.find(key);
        if (it == state.end()) continue;
        if (auto s = g_.find(it->second); s && !g_.at(*s).rejected)
          put_entry(entries, std::move(key), *s);
      }
      if (passes(g_, n, entries, v_)) {
        const node& e = g_.at(n);
        state[{*e.type, *e.state_key}] = e.id;
      }
    }
  }

  const room_version& v_;
  event_graph& g_;
  std::vector<char> in_fcs_;
  std::vector<uint8_t> below_state_;  // 0 not seen, 1 in progress, 2 done
  std::vector<std::vector<node_id>> below_;
};

// ---------------------------------------------------------------- v1

/// State resolution of room version 1 (rooms/v1 "State resolution", as
/// Synapse's state/v1.py): power levels, then join rules, then memberships,
/// each checked against the unconflicted state and what is resolved before;
/// other keys take the first event in (depth descending, sha1(event_id))
/// order that passes.
class resolver_v1 {
public:
  resolver_v1(const room_version& v, event_graph& g) : v_(v), g_(g) {}

  std::optional<state_map> run(const std::vector<state_map>& sets, std::string* why) {
    auto [state, conflicted_ids] = separate(sets, false);
    std::map<state_key_pair, std::vector<node_id>> conflicted;
    std::vector<node_id> all;
    for (const auto& [key, ids] : conflicted_ids) {
      std::vector<node_id> known;
      for (const std::string& id : ids)
        if (auto n = g_.find(id); n && g_.at(*n).is_state()) known.push_back(*n);
      all.insert(all.end(), known.begin(), known.end());
      if (known.size() == 1) state[key] = g_.at(known[0]).id;
      else if (known.size() > 1) conflicted[key] = std::move(known);
    }
    // The state the conflicted events are checked against: their auth
    // types, from the unconflicted state only.
    std::map<state_key_pair, node_id> auth;
    std::vector<node_id> checked = all;
    for (node_id n : all)
      for (const auto& key : auth_types_for_event(*g_.at(n).ev, v_)) {
        if (auth.count(key)) continue;
        auto it = state.find(key);
        if (it == state.end()) continue;
        if (auto a = g_.find(it->second); a && !g_.at(*a).rejected) {
          auth.emplace(key, *a);
          checked.push_back(*a);
        }
      }
    if (!same_room(g_, checked, why)) return std::nullopt;

    std::map<state_key_pair, node_id> resolved;
    const state_key_pair pl_key{power_levels_type, ""};
    if (auto it = conflicted.find(pl_key); it != conflicted.end())
      resolved[pl_key] = resolve_auth_events(it->second, auth);
    for (const char* type : {join_rules_type, member_type}) {
      for (auto& [k, n] : resolved) auth[k] = n;
      for (const auto& [key, events] : conflicted)
        if (key.first == type) resolved[key] = resolve_auth_events(events, auth);
    }
    for (auto& [k, n] : resolved) auth[k] = n;
    for (const auto& [key, events] : conflicted)
      if (!resolved.count(key)) resolved[key] = resolve_normal_events(events, auth);

    for (const auto& [key, n] : resolved) state[key] = g_.at(n).id;
    return state;
  }

private:
  const std::string& sha1_of(node_id n) {
    auto [it, added] = sha1_.try_emplace(n);
    if (added) {
      Poco::SHA1Engine engine;
      engine.update(g_.at(n).id);
      it->second = Poco::DigestEngine::digestToHex(engine.digest());
    }
    return it->second;
  }

  /// Depth descending, then sha1(event_id) ascending.
  std::vector<node_id> ordered(std::vector<node_id> events) {
    std::vector<std::pair<int64_t, node_id>> keyed;
    for (node_id n : events) keyed.emplace_back(int_field(*g_.at(n).ev, "depth"), n);
    std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return sha1_of(a.second) < sha1_of(b.second);
    });
    for (size_t i = 0; i < keyed.size(); ++i) events[i] = keyed[i].second;
    return events;
  }

  bool allowed(node_id n, const std::map<state_key_pair, node_id>& auth) {
    auth_entries entries;
    for (auto& key : auth_types_for_event(*g_.at(n).ev, v_))
      if (auto it = auth.find(key); it != auth.end()) entries.emplace_back(key, it->second);
    return passes(g_, n, entries, v_);
  }

  /// From the oldest: each event in turn replaces the one before while it
  /// passes against it; the last one that did wins.
  node_id resolve_auth_events(const std::vector<node_id>& events,
                              std::map<state_key_pair, node_id> auth) {
    std::vector<node_id> order = ordered(events);
    std::reverse(order.begin(), order.end());
    node_id prev = order[0];
    for (size_t i = 1; i < order.size(); ++i) {
      const node& p = g_.at(prev);
      auth[{*p.type, *p.state_key}] = prev;
      if (!allowed(order[i], auth)) return prev;
      prev = order[i];
    }
    return prev;
  }

  /// The newest event that passes, else the oldest.
  node_id resolve_normal_events(const std::vector<node_id>& events,
                                const std::map<state_key_pair, node_id>& auth) {
    std::vector<node_id> order = ordered(events);
    for (node_id n : order)
      if (allowed(n, auth)) return n;
    return order.back();
  }

  const room_version& v_;
  event_graph& g_;
  std::unordered_map<node_id, std::string> sha1_;
};

} // namespace

std::optional<state_map> resolve_state(const room_version& v,
                                       const std::vector<state_map>& state_sets,
                                       const state_res_events& events, std::string* why) {
  if (!events.get) {
    if (why) *why = "no event source";
    return std::nullopt;
  }
  if (state_sets.empty()) return state_map{};
  if (state_sets.size() == 1) return state_sets[0];
  event_graph g(events);
  if (v.state_res == state_resolution::v1) return resolver_v1(v, g).run(state_sets, why);
  return resolver_v2(v, g).run(state_sets, why);
}

} // namespace axon::matrix
