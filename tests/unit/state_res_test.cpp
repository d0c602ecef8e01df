// State resolution (rooms/fragments/v2-state-res; rooms/v1 "State
// resolution"). The DAG scenarios are Synapse's tests/state/test_v2.py: each
// builds a room on the same initial events, forks it, and checks the state at
// END, where the forks meet, against the events the test names (the keys
// that changed since START, and the named ones).
#include "matrix/state_res.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <set>

using namespace axon::matrix;
using nlohmann::json;

namespace {

const std::string alice = "@alice:example.com";
const std::string bob = "@bob:example.com";
const std::string charlie = "@charlie:example.com";
const std::string evelyn = "@evelyn:example.com";
const std::string zara = "@zara:example.com";
const std::string room_id = "!test:example.com";

std::string id_of(const std::string& node) { return "$" + node + ":example.com"; }

/// One event to add: `state_key` nullopt for a message event.
struct fake {
  std::string node, sender, type;
  std::optional<std::string> state_key;
  json content;
};

fake member(const std::string& node, const std::string& sender, const std::string& target,
            const std::string& membership) {
  return {node, sender, "m.room.member", target, {{"membership", membership}}};
}
fake power(const std::string& node, const std::string& sender, json users, json extra = {}) {
  json content = extra.is_null() ? json::object() : extra;
  content["users"] = std::move(users);
  return {node, sender, "m.room.power_levels", "", content};
}
fake topic(const std::string& node, const std::string& sender) {
  return {node, sender, "m.room.topic", "", json::object()};
}
fake message(const std::string& node, const std::string& sender) {
  return {node, sender, "m.room.message", std::nullopt, json::object()};
}

/// A room DAG built event by event, as Synapse's do_check does: each event's
/// state before is its one prev event's state after, or the resolution of
/// its prev events' states; its auth events are chosen from that state.
struct dag {
  const room_version& v;
  std::map<std::string, json> events;          // by event id
  std::map<std::string, state_map> state_after; // by node
  std::map<std::string, int64_t> depth;         // by node
  std::map<std::string, std::vector<std::string>> prevs; // by node
  std::set<std::string> rejected;               // event ids
  int64_t ts = 0;

  explicit dag(const char* version) : v(*find_room_version(version)) {}

  state_res_events source() const {
    state_res_events s;
    s.get = [this](const std::string& id) -> const json* {
      auto it = events.find(id);
      return it == events.end() ? nullptr : &it->second;
    };
    s.rejected = [this](const std::string& id) { return rejected.count(id) > 0; };
    return s;
  }

  state_map resolve(const std::vector<state_map>& sets) const {
    std::string why;
    auto r = resolve_state(v, sets, source(), &why);
    REQUIRE_MESSAGE(r, why);
    return *r;
  }

  /// An id, or a list of [id, {hashes}] pairs in rooms v1/v2.
  json ref(const std::string& id) const {
    return v.format == event_format::v1 ? json::array({id, {{"sha256", "x"}}}) : json(id);
  }

  void add(const fake& f, const std::vector<std::string>& prevs_of) {
    state_map before;
    if (prevs_of.size() == 1) {
      before = state_after.at(prevs_of[0]);
    } else if (prevs_of.size() > 1) {
      std::vector<state_map> sets;
      for (const auto& p : prevs_of) sets.push_back(state_after.at(p));
      before = resolve(sets);
    }
    json ev = {{"event_id", id_of(f.node)}, {"sender", f.sender},     {"type", f.type},
               {"content", f.content},      {"origin_server_ts", ts++}, {"room_id", room_id},
               {"auth_events", json::array()}, {"prev_events", json::array()}};
    if (f.state_key) ev["state_key"] = *f.state_key;
    int64_t d = 0;
    for (const auto& p : prevs_of) {
      ev["prev_events"].push_back(ref(id_of(p)));
      d = std::max(d, depth.at(p));
    }
    ev["depth"] = d + 1;
    depth[f.node] = d + 1;
    for (const auto& key : auth_types_for_event(ev, v))
      if (auto it = before.find(key); it != before.end())
        ev["auth_events"].push_back(ref(it->second));
    if (f.state_key) before[{f.type, *f.state_key}] = id_of(f.node);
    state_after[f.node] = std::move(before);
    prevs[f.node] = prevs_of;
    events[id_of(f.node)] = std::move(ev);
  }

  state_key_pair key_of(const std::string& node) const {
    const json& e = events.at(id_of(node));
    return {e["type"].get<std::string>(), e["state_key"].get<std::string>()};
  }
};

/// Synapse's INITIAL_EVENTS, chained by INITIAL_EDGES.
std::vector<fake> initial_events(const room_version& v) {
  json create = {{"creator", alice}, {"room_version", v.id}};
  return {
      {"CREATE", alice, "m.room.create", "", create},
      member("IMA", alice, alice, "join"),
      power("IPOWER", alice, {{alice, 100}}),
      {"IJR", alice, "m.room.join_rules", "", {{"join_rule", "public"}}},
      member("IMB", bob, bob, "join"),
      member("IMC", charlie, charlie, "join"),
      member("IMZ", zara, zara, "join"),
      message("START", zara),
      message("END", zara),
  };
}
const std::vector<std::string> initial_edges = {"START", "IMZ", "IMC", "IMB",
                                                "IJR",   "IPOWER", "IMA", "CREATE"};

/// Builds the DAG of the initial events, `events` and the chains in `edges`
/// ({A, B, C}: A's prev event is B, B's is C), adding events in topological
/// order with ties taken by smallest node name (Synapse's
/// lexicographical_topological_sort), so origin_server_ts follow that order.
/// Returns the state at END that differs from START's or has a key of one
/// of `expected`, and checks it against them.
dag do_check(const char* version, const std::vector<fake>& events,
             const std::vector<std::vector<std::string>>& edges,
             const std::vector<std::string>& expected) {
  dag d(version);
  std::map<std::string, fake> by_node;
  std::map<std::string, std::set<std::string>> prevs;
  for (const auto& list : {initial_events(d.v), events})
    for (const fake& f : list) by_node.emplace(f.node, f), prevs[f.node];
  auto chain = [&](const std::vector<std::string>& c) {
    for (size_t i = 0; i + 1 < c.size(); ++i) prevs[c[i]].insert(c[i + 1]);
  };
  chain(initial_edges);
  for (const auto& c : edges) chain(c);

  std::set<std::string> done;
  while (done.size() < by_node.size()) {
    for (const auto& [node, ps] : prevs) {  // std::map: smallest name first
      if (done.count(node)) continue;
      if (!std::all_of(ps.begin(), ps.end(), [&](auto& p) { return done.count(p) > 0; }))
        continue;
      d.add(by_node.at(node), {ps.begin(), ps.end()});
      done.insert(node);
      break;
    }
  }

  // The resolution does not depend on the order of the state sets.
  std::vector<state_map> sets;
  for (const auto& p : d.prevs.at("END")) sets.push_back(d.state_after.at(p));
  if (sets.size() > 1) {
    state_map forward = d.resolve(sets);
    std::reverse(sets.begin(), sets.end());
    CHECK(d.resolve(sets) == forward);
  }

  state_map want, got;
  for (const auto& node : expected) want[d.key_of(node)] = id_of(node);
  const state_map& start = d.state_after.at("START");
  for (const auto& [key, id] : d.state_after.at("END")) {
    auto s = start.find(key);
    if (want.count(key) || s == start.end() || s->second != id) got[key] = id;
  }
  CHECK(got == want);
  return d;
}

/// The initial events up to START, each on the one before.
void add_initial(dag& d) {
  std::string prev;
  for (const fake& f : initial_events(d.v)) {
    if (f.node == "END") continue;
    d.add(f, prev.empty() ? std::vector<std::string>{} : std::vector<std::string>{prev});
    prev = f.node;
  }
}

void check_all_versions(const std::vector<fake>& events,
                        const std::vector<std::vector<std::string>>& edges,
                        const std::vector<std::string>& expected) {
  // Room 2 lists auth events as [id, hashes] pairs, 10 and 11 as ids.
  for (const char* v : {"2", "10", "11"}) {
    CAPTURE(v);
    do_check(v, events, edges, expected);
  }
}

} // namespace

// ------------------------------------------------------------------ test_v2.py

TEST_CASE("state res v2: ban vs power levels") {
  check_all_versions({power("PA", alice, {{alice, 100}, {bob, 50}}),
                      member("MA", alice, alice, "join"),
                      member("MB", alice, bob, "ban"),
                      power("PB", bob, {{alice, 100}, {bob, 50}})},
                     {{"END", "MB", "MA", "PA", "START"}, {"END", "PB", "PA"}},
                     {"PA", "MA", "MB"});
}

TEST_CASE("state res v2: join rule evasion") {
  // `join_rules` (sic, as in Synapse's test) leaves no join rule: not public.
  check_all_versions({{"JR", alice, "m.room.join_rules", "", {{"join_rules", "private"}}},
                      member("ME", evelyn, evelyn, "join")},
                     {{"END", "JR", "START"}, {"END", "ME", "START"}}, {"JR"});
}

TEST_CASE("state res v2: offtopic power levels") {
  check_all_versions({power("PA", alice, {{alice, 100}, {bob, 50}}),
                      power("PB", bob, {{alice, 100}, {bob, 50}, {charlie, 50}}),
                      power("PC", charlie, {{alice, 100}, {bob, 50}, {charlie, 0}})},
                     {{"END", "PC", "PB", "PA", "START"}, {"END", "PA"}}, {"PC"});
}

TEST_CASE("state res v2: topic basic") {
  check_all_versions({topic("T1", alice), power("PA1", alice, {{alice, 100}, {bob, 50}}),
                      topic("T2", alice), power("PA2", alice, {{alice, 100}, {bob, 0}}),
                      power("PB", bob, {{alice, 100}, {bob, 50}}), topic("T3", bob)},
                     {{"END", "PA2", "T2", "PA1", "T1", "START"}, {"END", "T3", "PB", "PA1"}},
                     {"PA2", "T2"});
}

TEST_CASE("state res v2: topic reset") {
  check_all_versions({topic("T1", alice), power("PA", alice, {{alice, 100}, {bob, 50}}),
                      topic("T2", bob), member("MB", alice, bob, "ban")},
                     {{"END", "MB", "T2", "PA", "T1", "START"}, {"END", "T1"}},
                     {"T1", "MB", "PA"});
}

TEST_CASE("state res v2: topic") {
  check_all_versions({topic("T1", alice), power("PA1", alice, {{alice, 100}, {bob, 50}}),
                      topic("T2", alice), power("PA2", alice, {{alice, 100}, {bob, 0}}),
                      power("PB", bob, {{alice, 100}, {bob, 50}}), topic("T3", bob),
                      message("MZ1", zara), topic("T4", alice)},
                     {{"END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"},
                      {"END", "MZ1", "T3", "PB", "PA1"}},
                     {"T4", "PA2"});
}

TEST_CASE("state res v2: mainline sort") {
  // T3 wins: T4 was sent later but cites an older power levels event.
  check_all_versions({topic("T1", alice), power("PA1", alice, {{alice, 100}, {bob, 50}}),
                      topic("T2", alice),
                      power("PA2", alice, {{alice, 100}, {bob, 50}},
                            {{"events", {{"m.room.power_levels", 100}}}}),
                      power("PB", bob, {{alice, 100}, {bob, 50}}), topic("T3", bob),
                      topic("T4", alice)},
                     {{"END", "T3", "PA2", "T2", "PA1", "T1", "START"}, {"END", "T4", "PB", "PA1"}},
                     {"T3", "PA2"});
}

TEST_CASE("state res v2: simultaneous joins merge (SimpleParamStateTestCase)") {
  dag d("2");
  d.add({"CREATE", alice, "m.room.create", "", {{"creator", alice}}}, {});
  d.add(member("IMA", alice, alice, "join"), {"CREATE"});
  d.add({"IJR", alice, "m.room.join_rules", "", {{"join_rule", "public"}}}, {"IMA"});
  d.add(member("IMB", bob, bob, "join"), {"IJR"});
  d.add(member("IMC", charlie, charlie, "join"), {"IJR"});
  state_map want = d.state_after.at("IMB");
  want[{"m.room.member", charlie}] = id_of("IMC");
  CHECK(d.resolve({d.state_after.at("IMB"), d.state_after.at("IMC")}) == want);
  CHECK(d.resolve({d.state_after.at("IMC"), d.state_after.at("IMB")}) == want);
}

// ------------------------------------------------------------------ hand-built forks

TEST_CASE("state res v2: forks changing power levels, topic and membership") {
  // One side raises bob and bob sets the topic; on the other alice sets the
  // topic later and charlie leaves. Alice's topic cites the older power
  // levels, so bob's, later in the mainline, is applied last.
  check_all_versions({power("PA", alice, {{alice, 100}, {bob, 50}}), topic("TB", bob),
                      topic("TA", alice), member("LC", charlie, charlie, "leave")},
                     {{"END", "TB", "PA", "START"}, {"END", "LC", "TA", "START"}},
                     {"PA", "TB", "LC"});
}

TEST_CASE("state res v2: demotion on one side beats a kick on the other") {
  // Bob (50) kicks charlie while alice demotes bob. Alice's power level
  // orders her change first; the kick then fails and charlie stays.
  check_all_versions({power("PA", alice, {{alice, 100}, {bob, 50}}),
                      power("PA2", alice, {{alice, 100}, {bob, 0}}),
                      member("KC", bob, charlie, "leave")},
                     {{"END", "PA2", "PA", "START"}, {"END", "KC", "PA"}}, {"PA2", "IMC"});
}

TEST_CASE("state res v2: a ban on one side, a join rule change on the other") {
  // Zara is banned on one side; on the other she sets nothing but alice
  // makes the room invite-only. Both power events apply.
  check_all_versions({member("BZ", alice, zara, "ban"),
                      {"JI", alice, "m.room.join_rules", "", {{"join_rule", "invite"}}},
                      member("ME", evelyn, evelyn, "join")},
                     {{"END", "BZ", "START"}, {"END", "ME", "JI", "START"}}, {"BZ", "JI"});
}

TEST_CASE("state res v2: unknown events") {
  dag d("10");
  add_initial(d);
  d.add(topic("TA", alice), {"START"});
  d.add(topic("TB", alice), {"START"});
  state_map a = d.state_after.at("TA"), b = d.state_after.at("TB");
  const state_key_pair topic_key{"m.room.topic", ""};

  SUBCASE("an auth event the caller does not know is skipped") {
    d.events[id_of("TA")]["auth_events"].push_back("$unknown:example.com");
    CHECK(d.resolve({a, b}).at(topic_key) == id_of("TB"));  // later origin_server_ts
  }
  SUBCASE("an unknown conflicted event is left out") {
    a[topic_key] = "$unknown:example.com";
    CHECK(d.resolve({a, b}).at(topic_key) == id_of("TB"));
    b[topic_key] = "$unknown2:example.com";
    CHECK(d.resolve({a, b}).count(topic_key) == 0);
  }
  SUBCASE("an unknown unconflicted event stays") {
    a[{"m.room.name", ""}] = b[{"m.room.name", ""}] = "$unknown:example.com";
    CHECK(d.resolve({a, b}).at({"m.room.name", ""}) == "$unknown:example.com");
  }
  SUBCASE("a malformed event is left out") {
    d.events[id_of("TB")] = "not an event";
    CHECK(d.resolve({a, b}).at(topic_key) == id_of("TA"));
  }
  SUBCASE("three sets, one without the key") {
    state_map c = d.state_after.at("START");
    auto r = d.resolve({a, b, c});
    CHECK(r.at(topic_key) == id_of("TB"));
    CHECK(r.size() == b.size());
  }
  SUBCASE("events of another room") {
    d.events[id_of("TB")]["room_id"] = "!other:example.com";
    std::string why;
    CHECK_FALSE(resolve_state(d.v, {a, b}, d.source(), &why));
    CHECK(why.find(id_of("TB")) != std::string::npos);
  }
  SUBCASE("no event source, no sets, one set") {
    CHECK_FALSE(resolve_state(d.v, {a, b}, state_res_events{}));
    CHECK(d.resolve({}).empty());
    CHECK(d.resolve({a}) == a);
  }
}

TEST_CASE("state res v2: rejected events are not used as auth events") {
  dag d("10");
  add_initial(d);
  // Bob, raised by PA, sets a topic on one side, alice on the other.
  d.add(power("PA", alice, {{alice, 100}, {bob, 50}}), {"START"});
  d.add(topic("TB", bob), {"PA"});
  d.add(topic("TA", alice), {"START"});
  const state_map a = d.state_after.at("TB"), b = d.state_after.at("TA");
  const state_key_pair pl_key{"m.room.power_levels", ""}, topic_key{"m.room.topic", ""};

  auto r = d.resolve({a, b});
  CHECK(r.at(pl_key) == id_of("PA"));
  CHECK(r.at(topic_key) == id_of("TB"));
  // With bob's join rejected, neither the state's entry nor TB's own auth
  // event says he is in the room, and TB fails.
  d.rejected.insert(id_of("IMB"));
  r = d.resolve({a, b});
  CHECK(r.at(pl_key) == id_of("PA"));
  CHECK(r.at(topic_key) == id_of("TA"));
  CHECK(r.at({"m.room.member", bob}) == id_of("IMB"));  // unconflicted: kept
}

// ------------------------------------------------------------------ room version 1

TEST_CASE("state res v1: ban vs power levels") {
  // v1 checks each conflicted event against the unconflicted state (and the
  // power levels and join rules resolved before): bob's membership is
  // conflicted, so PB fails for want of it, and so does the ban for want of
  // alice's. Bob stays joined, which v2 fixes.
  do_check("1",
           {power("PA", alice, {{alice, 100}, {bob, 50}}), member("MA", alice, alice, "join"),
            member("MB", alice, bob, "ban"), power("PB", bob, {{alice, 100}, {bob, 50}})},
           {{"END", "MB", "MA", "PA", "START"}, {"END", "PB", "PA"}}, {"PA", "MA", "IMB"});
}

TEST_CASE("state res v1: join rule evasion succeeds") {
  // The known v1 bug: a key in only one state set is not conflicted.
  do_check("1",
           {{"JR", alice, "m.room.join_rules", "", {{"join_rules", "private"}}},
            member("ME", evelyn, evelyn, "join")},
           {{"END", "JR", "START"}, {"END", "ME", "START"}}, {"JR", "ME"});
}

TEST_CASE("state res v1: conflicting topics") {
  // The deeper topic wins when it passes; otherwise the next one.
  do_check("1", {topic("T1", alice), message("M1", zara), topic("T2", alice)},
           {{"END", "T2", "M1", "START"}, {"END", "T1", "START"}}, {"T2"});
  do_check("1", {topic("T1", alice), message("M1", zara), topic("T2", bob)},
           {{"END", "T2", "M1", "START"}, {"END", "T1", "START"}}, {"T1"});
}
