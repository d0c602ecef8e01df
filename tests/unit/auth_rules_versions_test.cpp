// What the authorisation rules of room versions 1 to 9 do differently from
// v10/v11 (auth_rules_test.cpp): rooms/v1 (v1-auth-rules: m.room.aliases rule
// 4, redaction rule 11), v3 (v3-auth-rules: rule 11 gone), v6 (MSC2432,
// `notifications`), v7 (knocking), v8 (v8-auth-rules: restricted joins), v10
// (knock_restricted, integer power levels) and v11 (creator).
#include "matrix/auth_rules.hpp"

#include "auth_room.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace axon::auth_test;

namespace {

std::vector<const room_version*> all_versions() {
  std::vector<const room_version*> out;
  for (auto v = supported_room_versions(); *v; ++v) out.push_back(find_room_version(*v));
  return out;
}

int number(const room_version& v) { return std::stoi(v.id); }

json create_event(const room_version& v, bool with_creator) {
  json content = {{"room_version", v.id}};
  if (with_creator) content["creator"] = alice;
  json e = make_event("m.room.create", alice, content, "");
  e["prev_events"] = json::array();
  return e;
}

/// A power_levels event by `sender` with the standard room's users and `extra`.
json power_levels_event(const std::string& sender, json extra) {
  json content = {{"users", {{alice, 100}, {mod, 50}}}};
  for (auto& [k, val] : extra.items()) content[k] = val;
  return make_event("m.room.power_levels", sender, content, "");
}

} // namespace

TEST_CASE("auth versions: m.room.create needs creator until v11; every version is recognised") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    room empty(*v, false);
    CHECK(empty.allows(create_event(*v, true)));
    CHECK(empty.allows(create_event(*v, false)) == (number(*v) >= 11));
    for (const room_version* other : all_versions()) {
      json e = create_event(*v, true);
      e["content"]["room_version"] = other->id;
      CHECK(empty.allows(e));
    }
  }
}

TEST_CASE("auth versions: the creator's first join reads v1/v2 [id, hash] prev_events") {
  for (const char* id : {"1", "2"}) {
    room r(version(id));
    json join = member_event(alice, alice, "join");
    join["prev_events"] = json::parse(R"([["$create", {"sha256": "abc"}]])");
    CHECK(r.allows(join));
    join["prev_events"] = json::parse(R"([["$other:a.org", {"sha256": "abc"}]])");
    CHECK_FALSE(r.allows(join));  // not straight after the create event: invite-only room
    join["prev_events"] = json::parse(R"([["$create", {"sha256": "abc"}], ["$x", {}]])");
    CHECK_FALSE(r.allows(join));
  }
}

TEST_CASE("auth versions: m.room.aliases has its own rule until v6 (MSC2432)") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    const bool special = number(*v) <= 5;
    room r = room::standard(*v);
    // eve is not in the room; bob is joined with level 0 (state_default 50).
    CHECK(r.allows(make_event("m.room.aliases", eve, {{"aliases", {"#a:c.org"}}}, "c.org")) ==
          special);
    CHECK(r.allows(make_event("m.room.aliases", bob, {{"aliases", {"#a:b.org"}}}, "b.org")) ==
          special);
    // The state key must be the sender's server.
    CHECK_FALSE(r.allows(make_event("m.room.aliases", bob, json::object(), "c.org")));
    // Without a state key: rejected by rule 4, a message event from v6 on.
    CHECK(r.allows(make_event("m.room.aliases", bob, json::object())) == !special);
    // alice may set them as any state event from v6 on, or for her own server.
    CHECK(r.allows(make_event("m.room.aliases", alice, json::object(), "a.org")));
    CHECK(r.allows(make_event("m.room.aliases", alice, json::object(), "b.org")) == !special);
  }
}

TEST_CASE("auth versions: redaction rule 11 in v1/v2 only") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    const bool rule11 = number(*v) <= 2;
    room r = room::standard(*v, "public");
    auto redaction = [&](const std::string& sender, const std::string& id,
                         const std::string& redacts) {
      json e = make_event("m.room.redaction", sender, json::object());
      e["event_id"] = id;
      e["redacts"] = redacts;
      return e;
    };
    // bob (0, below the redact level 50): only events whose id has his
    // redaction's domain.
    CHECK(r.allows(redaction(bob, "$r:b.org", "$x:b.org")));
    CHECK(r.allows(redaction(bob, "$r:b.org", "$x:a.org")) == !rule11);
    CHECK(r.allows(redaction(bob, "$r:b.org", "$hash")) == !rule11);
    // alice (100) has the redact level.
    CHECK(r.allows(redaction(alice, "$r:a.org", "$x:b.org")));
    room low = r;
    low.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"redact", 0}});
    CHECK(low.allows(redaction(bob, "$r:b.org", "$x:a.org")));
  }
}

TEST_CASE("auth versions: notifications in the power_levels rule from v6 (MSC2209)") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    room r = room::standard(*v);
    // mod (50) raises the room notification level above their own.
    CHECK(r.allows(power_levels_event(mod, {{"notifications", {{"room", 100}}}})) ==
          (number(*v) <= 5));
    CHECK(r.allows(power_levels_event(mod, {{"notifications", {{"room", 40}}}})));
    // `events` is checked in every version.
    CHECK_FALSE(r.allows(power_levels_event(mod, {{"events", {{"m.room.name", 100}}}})));
  }
}

TEST_CASE("auth versions: power level values per version") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    const int n = number(*v);
    room r = room::standard(*v);
    // Strings holding integers (v1-stringy-power-levels) until v10.
    CHECK(r.allows(power_levels_event(alice, {{"users", {{alice, 100}, {bob, "10"}}}})) ==
          (n <= 9));
    CHECK(r.allows(power_levels_event(alice, {{"ban", "60"}})) == (n <= 9));
    CHECK(r.allows(power_levels_event(alice, {{"events", {{"m.room.name", "60"}}}})) == (n <= 9));
    // Before v10 only `users` is validated (rule 10.1 / 9.1).
    CHECK(r.allows(power_levels_event(alice, {{"ban", true}})) == (n <= 9));
    CHECK(r.allows(power_levels_event(alice, {{"events", 5}})) == (n <= 9));
    CHECK_FALSE(r.allows(power_levels_event(alice, {{"users", {{alice, 100}, {bob, "x"}}}})));
    CHECK_FALSE(r.allows(power_levels_event(alice, {{"users", {{alice, 100}, {bob, true}}}})));
    CHECK_FALSE(r.allows(power_levels_event(alice, {{"users", {{"bob", 10}}}})));
    // Floats (v1-floaty-power-levels) until v6, where canonical JSON rules
    // them out.
    CHECK(r.allows(power_levels_event(alice, {{"users", {{alice, 100}, {bob, 10.7}}}})) ==
          (n <= 5));
  }
}

TEST_CASE("auth versions: stringy and floaty levels are read as integers") {
  room r(version("1"));
  r.member(alice, "join");
  r.power_levels({{"users",
                   {{alice, " +0100 "}, {bob, "-5"}, {carol, 50.9}, {mod, "1e2"}, {eve, "+-1"}}},
                  {"ban", "\t070\n"},
                  {"kick", "10.5"}});
  CHECK(user_power_level(r.state, alice) == 100);
  CHECK(user_power_level(r.state, bob) == -5);
  CHECK(user_power_level(r.state, carol) == 50);
  CHECK(user_power_level(r.state, mod) == 0);  // unusable: users_default
  CHECK(user_power_level(r.state, eve) == 0);
  CHECK(named_power_level(r.state, "ban") == 70);
  CHECK(named_power_level(r.state, "kick") == 50);  // unusable: the default
  // Equal levels in different spellings are no change (rule 10.3).
  room s = room::standard(version("1"));
  s.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"state_default", "50"}});
  json same = power_levels_event(mod, {{"state_default", 50}});
  CHECK(s.allows(same));
}

TEST_CASE("auth versions: knocking from v7, knock_restricted from v10") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    const int n = number(*v);
    room knock = room::standard(*v, "knock");
    CHECK(knock.allows(member_event(eve, eve, "knock")) == (n >= 7));
    // An invite lets the invitee join a knock room (v7 rule 4.3.4); before,
    // "knock" is an unknown join rule.
    room invited = knock;
    invited.member(eve, "invite");
    CHECK(invited.allows(member_event(eve, eve, "join")) == (n >= 7));
    // A knocking user may withdraw (v7 rule 4.5.1).
    room knocked = knock;
    knocked.member(eve, "knock");
    CHECK(knocked.allows(member_event(eve, eve, "leave")) == (n >= 7));

    room kr = room::standard(*v, "knock_restricted");
    CHECK(kr.allows(member_event(eve, eve, "knock")) == (n >= 10));
    json via_bob = member_event(eve, eve, "join", {{"join_authorised_via_users_server", bob}});
    CHECK(kr.allows(via_bob) == (n >= 10));
  }
}

TEST_CASE("auth versions: restricted joins and join_authorised_via_users_server from v8") {
  for (const room_version* v : all_versions()) {
    CAPTURE(v->id);
    const int n = number(*v);
    room restricted = room::standard(*v, "restricted");
    json via_bob = member_event(eve, eve, "join", {{"join_authorised_via_users_server", bob}});
    CHECK(restricted.allows(via_bob) == (n >= 8));
    CHECK_FALSE(restricted.allows(member_event(eve, eve, "join")));

    // Rule 4.2 (v8+): the authorising server must have signed. Before v8
    // the key means nothing, so a public room lets the join in.
    room pub = room::standard(*v, "public");
    json unsigned_join = via_bob;
    unsigned_join["signatures"] = {{"c.org", {{"ed25519:a", "sig"}}}};
    CHECK(pub.allows(unsigned_join) == (n <= 7));
    unsigned_join["content"]["join_authorised_via_users_server"] = 5;
    CHECK(pub.allows(unsigned_join) == (n <= 7));
  }
}
