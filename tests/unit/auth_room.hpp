// tests/unit/auth_room.hpp -- building rooms and events for the
// authorisation rule tests (auth_rules_test, auth_rules_versions_test).
#pragma once

#include "matrix/auth_rules.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace axon::auth_test {

using nlohmann::json;
using namespace axon::matrix;


inline const std::string room_id = "!room:a.org";
inline const std::string alice = "@alice:a.org";  // creator, level 100
inline const std::string mod = "@mod:b.org";      // level 50
inline const std::string bob = "@bob:b.org";      // level 0
inline const std::string carol = "@carol:a.org";  // level 0
inline const std::string eve = "@eve:c.org";      // outsider

inline const room_version& version(const char* id) { return *find_room_version(id); }
inline const room_version& v10() { return *find_room_version("10"); }
inline const room_version& v11() { return *find_room_version("11"); }

/// A PDU-shaped event. `state_key` "-" means a message event.
inline json make_event(const std::string& type, const std::string& sender, json content,
                const std::string& state_key = "-") {
  json e = {{"type", type},           {"sender", sender},         {"room_id", room_id},
            {"content", std::move(content)}, {"prev_events", {"$prev"}}, {"event_id", "$new"}};
  if (state_key != "-") e["state_key"] = state_key;
  return e;
}

inline json member_event(const std::string& sender, const std::string& target,
                  const std::string& membership, json extra = json::object()) {
  extra["membership"] = membership;
  return make_event("m.room.member", sender, extra, target);
}

/// A room under construction: the state before the event being checked.
struct room {
  const room_version& v;
  auth_state state;

  explicit room(const room_version& version, bool with_create = true) : v(version) {
    if (!with_create) return;
    json content = {{"room_version", v.id}};
    if (!v.v11_rules) content["creator"] = alice;
    json create = make_event("m.room.create", alice, content, "");
    create["prev_events"] = json::array();
    create["event_id"] = "$create";
    put(create);
  }

  void put(const json& e) {
    state[{e["type"].get<std::string>(), e["state_key"].get<std::string>()}] = e;
  }
  void member(const std::string& user, const std::string& membership) {
    put(member_event(user, user, membership));
  }
  void join_rule(const std::string& rule) {
    put(make_event("m.room.join_rules", alice, {{"join_rule", rule}}, ""));
  }
  void power_levels(const json& content) {
    put(make_event("m.room.power_levels", alice, content, ""));
  }

  /// alice (100), mod (50), bob and carol (0) joined; the given join rule.
  static room standard(const room_version& version, const std::string& rule = "invite") {
    room r(version);
    r.member(alice, "join");
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}});
    r.join_rule(rule);
    r.member(mod, "join");
    r.member(bob, "join");
    r.member(carol, "join");
    return r;
  }

  std::optional<std::string> check(const json& e) const { return check_auth(e, state, v); }
  bool allows(const json& e) const { return !check(e).has_value(); }
};


} // namespace axon::auth_test
