// axon-state-res-bench: state resolution v2 (matrix/state_res) of a room
// forked into two branches of 500 state events each.
//
// The room: a create event, power levels (alice 100, four moderators 50),
// public join rules and 200 joined users. Each branch, from that common
// state, is a chain of topic, name and custom state changes, joins of new
// users, leaves, kicks and power level changes (every event valid in its
// branch; the bench checks so). Both branch states are resolved N times.
//
// Usage: axon-state-res-bench [runs (default 20)] [events per branch (default 500)]
#include "matrix/auth_rules.hpp"
#include "matrix/room_version.hpp"
#include "matrix/state_res.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using namespace axon::matrix;
using nlohmann::json;

namespace {

const std::string room_id = "!bench:a.org";
const std::string alice = "@alice:a.org";

/// The room's events and one branch's state as it is built.
struct room_builder {
  const room_version& v;
  std::unordered_map<std::string, json>& events;
  state_map state;
  std::string last;   // the branch's newest event
  int64_t depth = 0;
  int64_t* ts;
  int* invalid;

  /// Adds a state event on top of the branch, its auth events chosen from
  /// the branch's state.
  void add(const std::string& type, const std::string& state_key, const std::string& sender,
           json content) {
    std::string id = "$" + std::to_string(events.size()) + ":a.org";
    json ev = {{"event_id", id},          {"room_id", room_id},     {"type", type},
               {"state_key", state_key},  {"sender", sender},       {"content", std::move(content)},
               {"origin_server_ts", (*ts)++}, {"depth", ++depth}, {"auth_events", json::array()},
               {"prev_events", last.empty() ? json::array() : json::array({last})}};
    auth_state auth;
    for (const auto& key : auth_types_for_event(ev, v)) {
      auto it = state.find(key);
      if (it == state.end()) continue;
      ev["auth_events"].push_back(it->second);
      auth.emplace(key, events.at(it->second));
    }
    if (check_auth(ev, auth, v)) ++*invalid;
    state[{type, state_key}] = id;
    last = id;
    events.emplace(id, std::move(ev));
  }

  std::string membership(const std::string& user) const {
    auto it = state.find({"m.room.member", user});
    if (it == state.end()) return "";
    return events.at(it->second)["content"]["membership"].get<std::string>();
  }
};

std::string user(const char* prefix, int i) {
  return "@" + std::string(prefix) + std::to_string(i) + ":b.org";
}

/// One branch of `n` events; `tag` names its new users apart.
void grow_branch(room_builder& b, int n, const char* tag, unsigned seed, json power_content) {
  std::mt19937 rng(seed);
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<unsigned>(k)); };
  const std::vector<std::string> mods = {user("mod", 0), user("mod", 1), user("mod", 2),
                                         user("mod", 3)};
  int joined_new = 0;
  for (int i = 0; i < n; ++i) {
    int r = pick(100);
    const std::string& mod = mods[pick(4)];
    if (r < 15) {
      b.add("m.room.topic", "", pick(2) ? alice : mod,
            {{"topic", std::string(tag) + std::to_string(i)}});
    } else if (r < 25) {
      b.add("m.room.name", "", mod, {{"name", std::string(tag) + std::to_string(i)}});
    } else if (r < 50) {
      b.add("org.axon.bench", "k" + std::to_string(pick(100)), mod, {{"i", i}});
    } else if (r < 75) {
      std::string u = user(tag, joined_new++);
      b.add("m.room.member", u, u, {{"membership", "join"}});
    } else if (r < 93) {
      // A common user leaves (r < 85) or a moderator kicks them.
      std::string u = user("u", pick(200));
      if (b.membership(u) != "join") {
        b.add("org.axon.bench", "k" + std::to_string(pick(100)), mod, {{"i", i}});
        continue;
      }
      b.add("m.room.member", u, r < 85 ? u : mod, {{"membership", "leave"}});
    } else {
      power_content["users"][user("u", pick(200))] = 10 + pick(30);
      b.add("m.room.power_levels", "", alice, power_content);
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  const int per_branch = argc > 2 ? std::max(1, std::atoi(argv[2])) : 500;
  const room_version& v = *find_room_version("10");

  std::unordered_map<std::string, json> events;
  int64_t ts = 1700000000000;
  int invalid = 0;
  room_builder common{v, events, {}, "", 0, &ts, &invalid};
  common.add("m.room.create", "", alice, {{"creator", alice}, {"room_version", v.id}});
  common.add("m.room.member", alice, alice, {{"membership", "join"}});
  json power_content = {{"users", {{alice, 100}}}};
  for (int m = 0; m < 4; ++m) power_content["users"][user("mod", m)] = 50;
  common.add("m.room.power_levels", "", alice, power_content);
  common.add("m.room.join_rules", "", alice, {{"join_rule", "public"}});
  auto join = [&](const std::string& u) {
    common.add("m.room.member", u, u, {{"membership", "join"}});
  };
  for (int m = 0; m < 4; ++m) join(user("mod", m));
  for (int u = 0; u < 200; ++u) join(user("u", u));

  room_builder a = common, b = common;
  grow_branch(a, per_branch, "a", 1, power_content);
  grow_branch(b, per_branch, "b", 2, power_content);
  if (invalid) std::fprintf(stderr, "warning: %d events fail their branch's auth rules\n", invalid);

  state_res_events source;
  source.get = [&](const std::string& id) -> const json* {
    auto it = events.find(id);
    return it == events.end() ? nullptr : &it->second;
  };
  const std::vector<state_map> sets = {a.state, b.state};
  size_t conflicted = 0;
  for (const auto& [key, id] : a.state) {
    auto it = b.state.find(key);
    conflicted += it == b.state.end() || it->second != id;
  }
  for (const auto& [key, id] : b.state) conflicted += !a.state.count(key);

  std::vector<double> ms;
  state_map result;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::string why;
    auto r = resolve_state(v, sets, source, &why);
    auto t1 = std::chrono::steady_clock::now();
    if (!r) {
      std::fprintf(stderr, "resolution failed: %s\n", why.c_str());
      return 1;
    }
    result = std::move(*r);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  size_t from_a = 0, from_b = 0;
  for (const auto& [key, id] : result) {
    auto in = [&](const state_map& s) { return s.count(key) && s.at(key) == id; };
    bool in_a = in(a.state), in_b = in(b.state);
    from_a += in_a && !in_b;
    from_b += in_b && !in_a;
  }
  std::printf("events %zu, state %zu/%zu, conflicted keys %zu, resolved %zu "
              "(%zu from a, %zu from b)\n",
              events.size(), a.state.size(), b.state.size(), conflicted, result.size(), from_a,
              from_b);
  std::printf("2x%d state events, %d runs: min %.2f ms, median %.2f ms\n", per_branch, runs,
              ms.front(), ms[ms.size() / 2]);
  return 0;
}
