// Authorisation rules of room versions 10 and 11, rule by rule
// (rooms/v10 and rooms/v11 "Authorisation rules"); what earlier versions do
// differently is in auth_rules_versions_test.cpp.
#include "matrix/auth_rules.hpp"

#include "auth_room.hpp"
#include "matrix/crypto.hpp"
#include "matrix/signing.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace axon::auth_test;

// ------------------------------------------------------------------ rule 1

TEST_CASE("auth: m.room.create") {
  room empty10(v10(), false), empty11(v11(), false);
  json create10 =
      make_event("m.room.create", alice, {{"creator", alice}, {"room_version", "10"}}, "");
  create10["prev_events"] = json::array();
  json create11 = make_event("m.room.create", alice, {{"room_version", "11"}}, "");
  create11["prev_events"] = json::array();

  CHECK(empty10.allows(create10));
  CHECK(empty11.allows(create11));
  SUBCASE("v10 requires creator, v11 does not") {
    CHECK_FALSE(empty10.allows(create11));
    CHECK(empty11.allows(create11));
  }
  SUBCASE("prev_events must be empty") {
    create11["prev_events"] = {"$x"};
    CHECK_FALSE(empty11.allows(create11));
  }
  SUBCASE("room_id domain must match sender domain") {
    create11["sender"] = bob;
    CHECK_FALSE(empty11.allows(create11));
  }
  SUBCASE("unsupported or malformed room_version") {
    create11["content"]["room_version"] = "12";
    CHECK_FALSE(empty11.allows(create11));
    create11["content"]["room_version"] = 11;
    CHECK_FALSE(empty11.allows(create11));
  }
  SUBCASE("room_version may be absent") {
    create11["content"].erase("room_version");
    CHECK(empty11.allows(create11));
  }
}

// ------------------------------------------------------------------ rule 2, 3

TEST_CASE("auth: auth events must include the create event and be from this room") {
  room r(v11(), false);
  CHECK(r.check(make_event("m.room.message", alice, {{"body", "hi"}})).has_value());

  room s = room::standard(v11());
  json other = s.state[{"m.room.member", bob}];
  other["room_id"] = "!other:a.org";
  s.put(other);
  CHECK_FALSE(s.allows(make_event("m.room.message", bob, {{"body", "hi"}})));
  CHECK(s.allows(make_event("m.room.message", carol, {{"body", "hi"}})));
}

TEST_CASE("auth: m.federate false keeps other servers out") {
  room r(v10());
  r.state[{"m.room.create", ""}]["content"]["m.federate"] = false;
  r.member(alice, "join");
  r.join_rule("public");
  CHECK(r.allows(member_event(carol, carol, "join")));
  CHECK_FALSE(r.allows(member_event(bob, bob, "join")));
}

// ------------------------------------------------------------------ rule 4.3 join

TEST_CASE("auth: creator's first join") {
  for (const room_version* v : {&v10(), &v11()}) {
    CAPTURE(v->id);
    room r(*v);
    json join = member_event(alice, alice, "join");
    join["prev_events"] = {"$create"};
    CHECK(r.allows(join));

    json elsewhere = join;
    elsewhere["prev_events"] = {"$elsewhere"};
    CHECK_FALSE(r.allows(elsewhere));

    json bob_join = member_event(bob, bob, "join");  // someone else cannot join first
    bob_join["prev_events"] = {"$create"};
    CHECK_FALSE(r.allows(bob_join));

    // Without event_id on the create event: the state holds only the create event.
    r.state[{"m.room.create", ""}].erase("event_id");
    CHECK(r.allows(join));
    r.member(carol, "invite");
    CHECK_FALSE(r.allows(join));
  }
}

TEST_CASE("auth: v11 creator is the create sender, not content.creator") {
  room r(v11());
  r.state[{"m.room.create", ""}]["content"]["creator"] = bob;
  json alice_join = member_event(alice, alice, "join");
  alice_join["prev_events"] = {"$create"};
  json bob_join = member_event(bob, bob, "join");
  bob_join["prev_events"] = {"$create"};
  CHECK(r.allows(alice_join));
  CHECK_FALSE(r.allows(bob_join));

  room old(v10());
  old.state[{"m.room.create", ""}]["content"]["creator"] = bob;
  CHECK(old.allows(bob_join));
  CHECK_FALSE(old.allows(alice_join));
}

TEST_CASE("auth: joins to public and invite-only rooms") {
  for (const room_version* v : {&v10(), &v11()}) {
    room pub = room::standard(*v, "public");
    CHECK(pub.allows(member_event(eve, eve, "join")));
    CHECK_FALSE(pub.allows(member_event(alice, eve, "join")));  // on behalf of another

    room inv = room::standard(*v, "invite");
    CHECK_FALSE(inv.allows(member_event(eve, eve, "join")));
    inv.member(eve, "invite");
    CHECK(inv.allows(member_event(eve, eve, "join")));
    // Already joined: a join (e.g. a profile change) is allowed.
    CHECK(inv.allows(member_event(bob, bob, "join")));
  }
}

TEST_CASE("auth: banned users cannot join, even a public room") {
  room r = room::standard(v11(), "public");
  r.member(eve, "ban");
  CHECK_FALSE(r.allows(member_event(eve, eve, "join")));
}

TEST_CASE("auth: no join rules event means invite-only") {
  room r(v11());
  r.member(alice, "join");
  CHECK_FALSE(r.allows(member_event(bob, bob, "join")));
}

TEST_CASE("auth: unknown join rule rejects joins") {
  room r = room::standard(v11(), "private");
  CHECK_FALSE(r.allows(member_event(eve, eve, "join")));
}

TEST_CASE("auth: restricted joins") {
  for (const char* rule : {"restricted", "knock_restricted"}) {
    CAPTURE(rule);
    const room base = room::standard(v10(), rule);
    auto via = [](const std::string& user) {
      return member_event(eve, eve, "join", {{"join_authorised_via_users_server", user}});
    };
    const json via_bob = via(bob), via_mod = via(mod);
    CHECK_FALSE(base.allows(member_event(eve, eve, "join")));  // no authoriser
    CHECK(base.allows(via_bob));  // bob is joined and may invite (invite level 0)

    // The authoriser must be joined.
    CHECK_FALSE(base.allows(via("@zed:c.org")));
    room left = base;
    left.member(bob, "leave");
    CHECK_FALSE(left.allows(via_bob));

    // The authoriser must have the invite level.
    room strict = base;
    strict.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"invite", 50}});
    CHECK_FALSE(strict.allows(via_bob));
    CHECK(strict.allows(via_mod));

    // Invited users need no authoriser.
    room invited = base;
    invited.member(eve, "invite");
    CHECK(invited.allows(member_event(eve, eve, "join")));

    // Rule 4.2: the authoriser's server must have signed.
    json signed_join = via_bob;
    signed_join["signatures"] = {{"c.org", {{"ed25519:a", "sig"}}}};
    CHECK_FALSE(base.allows(signed_join));
    signed_join["signatures"]["b.org"] = {{"ed25519:a", "sig"}};
    CHECK(base.allows(signed_join));

    json malformed = via_bob;
    malformed["content"]["join_authorised_via_users_server"] = 5;
    CHECK_FALSE(base.allows(malformed));

    room banned = base;
    banned.member(eve, "ban");
    CHECK_FALSE(banned.allows(via_bob));
  }
}

// ------------------------------------------------------------------ rule 4.4 invite

TEST_CASE("auth: invites") {
  room r = room::standard(v11());
  CHECK(r.allows(member_event(bob, eve, "invite")));  // invite level defaults to 0
  CHECK_FALSE(r.allows(member_event(eve, eve, "invite")));  // sender not joined
  CHECK_FALSE(r.allows(member_event(bob, carol, "invite")));  // target joined

  SUBCASE("low power cannot invite when invite level is raised") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"invite", 50}});
    CHECK_FALSE(r.allows(member_event(bob, eve, "invite")));
    CHECK(r.allows(member_event(mod, eve, "invite")));
  }
  SUBCASE("banned targets cannot be invited") {
    r.member(eve, "ban");
    CHECK_FALSE(r.allows(member_event(alice, eve, "invite")));
  }
  SUBCASE("a user who left may be invited again") {
    r.member(eve, "leave");
    CHECK(r.allows(member_event(bob, eve, "invite")));
  }
}

namespace {

/// A room with an m.room.third_party_invite from bob, token "tok", whose
/// public key is `key`'s; returns the signed invite of eve.
json third_party_invite(room& r, const signing_key& key, const signing_key& signer,
                        const std::string& mxid = eve) {
  r.put(make_event("m.room.third_party_invite", bob,
                   {{"display_name", "e..."}, {"key_validity_url", "https://id/v"},
                    {"public_key", key.public_b64()}},
                   "tok"));
  json signed_obj = {{"mxid", mxid}, {"token", "tok"}};
  sign_json(signed_obj, "id.example", signer);
  return member_event(bob, eve, "invite",
                      {{"third_party_invite", {{"display_name", "e..."}, {"signed", signed_obj}}}});
}

} // namespace

TEST_CASE("auth: third-party invites") {
  room r = room::standard(v10());
  const signing_key key = signing_key::generate();
  json invite = third_party_invite(r, key, key);
  CHECK(r.allows(invite));

  SUBCASE("signature by another key") {
    json forged = third_party_invite(r, key, signing_key::generate());
    CHECK_FALSE(r.allows(forged));
  }
  SUBCASE("key listed in public_keys") {
    const signing_key other = signing_key::generate();
    json e = third_party_invite(r, other, key);
    CHECK_FALSE(r.allows(e));
    r.state[{"m.room.third_party_invite", "tok"}]["content"]["public_keys"] =
        json::array({{{"public_key", key.public_b64()}}});
    CHECK(r.allows(e));
  }
  SUBCASE("mxid must match state_key") {
    CHECK_FALSE(r.allows(third_party_invite(r, key, key, "@mallory:c.org")));
  }
  SUBCASE("token must name a third_party_invite in state") {
    r.state.erase({"m.room.third_party_invite", "tok"});
    CHECK_FALSE(r.allows(invite));
  }
  SUBCASE("sender must be the sender of the third_party_invite") {
    invite["sender"] = carol;
    CHECK_FALSE(r.allows(invite));
  }
  SUBCASE("signed must exist and carry mxid and token") {
    invite["content"]["third_party_invite"].erase("signed");
    CHECK_FALSE(r.allows(invite));
    invite["content"]["third_party_invite"] = "junk";
    CHECK_FALSE(r.allows(invite));
  }
  SUBCASE("target banned") {
    r.member(eve, "ban");
    CHECK_FALSE(r.allows(invite));
  }
  SUBCASE("signed content tampered with") {
    invite["content"]["third_party_invite"]["signed"]["extra"] = 1;
    CHECK_FALSE(r.allows(invite));
  }
}

// ------------------------------------------------------------------ rule 4.5 leave / kick

TEST_CASE("auth: leaving") {
  room r = room::standard(v11(), "knock");
  CHECK(r.allows(member_event(bob, bob, "leave")));
  CHECK_FALSE(r.allows(member_event(eve, eve, "leave")));  // no membership

  r.member(eve, "invite");
  CHECK(r.allows(member_event(eve, eve, "leave")));  // reject an invite
  r.member(eve, "knock");
  CHECK(r.allows(member_event(eve, eve, "leave")));  // retract a knock
  r.member(eve, "leave");
  CHECK_FALSE(r.allows(member_event(eve, eve, "leave")));
  r.member(eve, "ban");
  CHECK_FALSE(r.allows(member_event(eve, eve, "leave")));  // cannot unban oneself
}

TEST_CASE("auth: kicks") {
  room r = room::standard(v10());
  CHECK(r.allows(member_event(mod, bob, "leave")));       // 50 >= kick 50, bob 0 < 50
  CHECK_FALSE(r.allows(member_event(bob, carol, "leave")));  // below kick level
  CHECK_FALSE(r.allows(member_event(mod, alice, "leave")));  // cannot kick higher
  CHECK(r.allows(member_event(alice, mod, "leave")));

  SUBCASE("cannot kick an equal") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}, {bob, 50}}}});
    CHECK_FALSE(r.allows(member_event(mod, bob, "leave")));
  }
  SUBCASE("kicker must be joined") {
    r.member(mod, "leave");
    CHECK_FALSE(r.allows(member_event(mod, bob, "leave")));
  }
  SUBCASE("kick level lowered") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"kick", 0}});
    CHECK_FALSE(r.allows(member_event(bob, carol, "leave")));  // carol's 0 is not below bob's 0
    CHECK(r.allows(member_event(mod, carol, "leave")));
  }
  SUBCASE("invited users can be uninvited") {
    r.member(eve, "invite");
    CHECK(r.allows(member_event(mod, eve, "leave")));
  }
}

// ------------------------------------------------------------------ rule 4.6 ban

TEST_CASE("auth: bans and unbans") {
  room r = room::standard(v11());
  CHECK(r.allows(member_event(mod, bob, "ban")));
  CHECK(r.allows(member_event(mod, eve, "ban")));  // non-members can be banned
  CHECK_FALSE(r.allows(member_event(bob, carol, "ban")));
  CHECK_FALSE(r.allows(member_event(mod, alice, "ban")));
  CHECK_FALSE(r.allows(member_event(eve, bob, "ban")));  // not joined

  SUBCASE("cannot ban an equal") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}, {bob, 50}}}});
    CHECK_FALSE(r.allows(member_event(mod, bob, "ban")));
  }
  SUBCASE("unban needs both kick and ban levels") {
    r.member(eve, "ban");
    CHECK(r.allows(member_event(mod, eve, "leave")));
    CHECK_FALSE(r.allows(member_event(bob, eve, "leave")));
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"ban", 60}});
    CHECK_FALSE(r.allows(member_event(mod, eve, "leave")));  // below ban
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"ban", 50}, {"kick", 70}});
    CHECK_FALSE(r.allows(member_event(mod, eve, "leave")));  // below kick
    CHECK(r.allows(member_event(alice, eve, "leave")));
  }
}

// ------------------------------------------------------------------ rule 4.7 knock

TEST_CASE("auth: knocking") {
  room knock = room::standard(v10(), "knock");
  CHECK(knock.allows(member_event(eve, eve, "knock")));
  CHECK_FALSE(knock.allows(member_event(bob, eve, "knock")));  // on behalf of another
  CHECK_FALSE(knock.allows(member_event(bob, bob, "knock")));  // already joined
  CHECK_FALSE(knock.allows(member_event(eve, eve, "join")));   // knock room needs an invite
  knock.member(eve, "invite");
  CHECK_FALSE(knock.allows(member_event(eve, eve, "knock")));
  CHECK(knock.allows(member_event(eve, eve, "join")));
  knock.member(eve, "ban");
  CHECK_FALSE(knock.allows(member_event(eve, eve, "knock")));

  room knock_restricted = room::standard(v11(), "knock_restricted");
  CHECK(knock_restricted.allows(member_event(eve, eve, "knock")));
  knock_restricted.member(eve, "leave");
  CHECK(knock_restricted.allows(member_event(eve, eve, "knock")));

  for (const char* rule : {"public", "invite", "restricted"}) {
    room r = room::standard(v11(), rule);
    CHECK_FALSE(r.allows(member_event(eve, eve, "knock")));
  }
}

// ------------------------------------------------------------------ rule 4.1, 4.8

TEST_CASE("auth: malformed membership events") {
  room r = room::standard(v11(), "public");
  json no_key = member_event(eve, eve, "join");
  no_key.erase("state_key");
  CHECK_FALSE(r.allows(no_key));
  json no_membership = member_event(eve, eve, "join");
  no_membership["content"].erase("membership");
  CHECK_FALSE(r.allows(no_membership));
  json bad_membership = member_event(eve, eve, "join");
  bad_membership["content"]["membership"] = 3;
  CHECK_FALSE(r.allows(bad_membership));
  CHECK_FALSE(r.allows(member_event(alice, eve, "bogus")));
}

// ------------------------------------------------------------------ rule 5-8

TEST_CASE("auth: events from non-members are rejected") {
  room r = room::standard(v11(), "public");
  CHECK(r.allows(make_event("m.room.message", bob, {{"body", "hi"}})));
  CHECK_FALSE(r.allows(make_event("m.room.message", eve, {{"body", "hi"}})));
  r.member(eve, "invite");
  CHECK_FALSE(r.allows(make_event("m.room.message", eve, {{"body", "hi"}})));
  r.member(bob, "leave");
  CHECK_FALSE(r.allows(make_event("m.room.message", bob, {{"body", "hi"}})));
}

TEST_CASE("auth: m.room.third_party_invite needs the invite level only") {
  room r = room::standard(v11());
  json tpi = make_event("m.room.third_party_invite", bob, {{"public_key", "abc"}}, "tok");
  CHECK(r.allows(tpi));  // invite 0, although state_default is 50
  r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"invite", 50}});
  CHECK_FALSE(r.allows(tpi));
  CHECK_FALSE(r.allows(make_event("m.room.third_party_invite", eve, {}, "tok")));
}

TEST_CASE("auth: power needed per event type") {
  room r = room::standard(v10());
  json name = make_event("m.room.name", bob, {{"name", "x"}}, "");
  CHECK_FALSE(r.allows(name));  // state_default 50
  name["sender"] = mod;
  CHECK(r.allows(name));

  SUBCASE("events overrides the defaults") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}},
                    {"events", {{"m.room.name", 0}, {"m.room.message", 20}}}});
    name["sender"] = bob;
    CHECK(r.allows(name));
    CHECK_FALSE(r.allows(make_event("m.room.message", bob, {{"body", "hi"}})));
    CHECK(r.allows(make_event("m.room.message", mod, {{"body", "hi"}})));
  }
  SUBCASE("events_default") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"events_default", 10}});
    CHECK_FALSE(r.allows(make_event("m.custom", bob, json::object())));
    CHECK(r.allows(make_event("m.custom", mod, json::object())));
  }
  SUBCASE("state_default lowered") {
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"state_default", 0}});
    name["sender"] = bob;
    CHECK(r.allows(name));
  }
}

TEST_CASE("auth: state keys starting with @ belong to their user") {
  room r = room::standard(v11());
  r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"state_default", 0}});
  CHECK(r.allows(make_event("org.example.status", bob, json::object(), bob)));
  CHECK_FALSE(r.allows(make_event("org.example.status", bob, json::object(), carol)));
  // Even the room admin cannot set another user's keyed state.
  CHECK_FALSE(r.allows(make_event("org.example.status", alice, json::object(), bob)));
  CHECK(r.allows(make_event("org.example.status", bob, json::object(), "not-a-user")));
}

// ------------------------------------------------------------------ rule 9

TEST_CASE("auth: power level changes") {
  room r = room::standard(v10());
  const json base = r.state[{"m.room.power_levels", ""}]["content"];
  auto pl = [](const std::string& sender, const json& content) {
    return make_event("m.room.power_levels", sender, content, "");
  };

  SUBCASE("the first power levels event is allowed whatever it says") {
    room fresh(v10());
    fresh.member(alice, "join");
    CHECK(fresh.allows(pl(alice, {{"users", {{alice, 1000}, {bob, 9000}}}, {"ban", 5000}})));
  }
  SUBCASE("raise own level above own level") {
    json c = base;
    c["users"][mod] = 51;
    CHECK_FALSE(r.allows(pl(mod, c)));
  }
  SUBCASE("raise another above own level, or to it") {
    json c = base;
    c["users"][bob] = 51;
    CHECK_FALSE(r.allows(pl(mod, c)));
    c["users"][bob] = 50;
    CHECK(r.allows(pl(mod, c)));
  }
  SUBCASE("demote an equal or higher user") {
    json c = base;
    c["users"][alice] = 10;
    CHECK_FALSE(r.allows(pl(mod, c)));
    r.power_levels({{"users", {{alice, 100}, {mod, 50}, {bob, 50}}}});
    json d = r.state[{"m.room.power_levels", ""}]["content"];
    d["users"].erase(bob);
    CHECK_FALSE(r.allows(pl(mod, d)));
    CHECK(r.allows(pl(alice, d)));
  }
  SUBCASE("demote oneself") {
    json c = base;
    c["users"][mod] = 10;
    CHECK(r.allows(pl(mod, c)));
    c["users"].erase(mod);
    CHECK(r.allows(pl(mod, c)));
  }
  SUBCASE("named levels") {
    json c = base;
    c["ban"] = 40;  // added, 40 <= 50
    CHECK(r.allows(pl(mod, c)));
    c["ban"] = 60;
    CHECK_FALSE(r.allows(pl(mod, c)));
    r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"kick", 100}});
    json d = r.state[{"m.room.power_levels", ""}]["content"];
    d["kick"] = 50;  // current value above own level
    CHECK_FALSE(r.allows(pl(mod, d)));
    d.erase("kick");  // removal is a change too
    CHECK_FALSE(r.allows(pl(mod, d)));
    CHECK(r.allows(pl(alice, d)));
  }
  SUBCASE("events and notifications entries") {
    json c = base;
    c["events"] = {{"m.room.name", 50}};
    c["notifications"] = {{"room", 50}};
    CHECK(r.allows(pl(mod, c)));
    c["events"]["m.room.topic"] = 75;
    CHECK_FALSE(r.allows(pl(mod, c)));
    c["events"].erase("m.room.topic");
    c["notifications"]["room"] = 51;
    CHECK_FALSE(r.allows(pl(mod, c)));

    r.power_levels({{"users", {{alice, 100}, {mod, 50}}},
                    {"events", {{"m.room.tombstone", 100}}}, {"notifications", {{"room", 90}}}});
    json d = r.state[{"m.room.power_levels", ""}]["content"];
    json removed = d;
    removed["events"].erase("m.room.tombstone");
    CHECK_FALSE(r.allows(pl(mod, removed)));
    json lowered = d;
    lowered["notifications"]["room"] = 10;
    CHECK_FALSE(r.allows(pl(mod, lowered)));
    json unchanged = d;
    unchanged["events"]["m.room.name"] = 50;
    CHECK(r.allows(pl(mod, unchanged)));
  }
  SUBCASE("the sender needs the level to send power levels at all") {
    json c = base;
    CHECK_FALSE(r.allows(pl(bob, c)));
  }
  SUBCASE("v10+: values must be integers") {
    for (json bad : {json("50"), json(50.5), json(50.0), json(true), json(nullptr)}) {
      CAPTURE(bad.dump());
      json c = base;
      c["ban"] = bad;
      CHECK_FALSE(r.allows(pl(alice, c)));
      json d = base;
      d["users"][bob] = bad;
      CHECK_FALSE(r.allows(pl(alice, d)));
      json e = base;
      e["events"] = {{"m.room.name", bad}};
      CHECK_FALSE(r.allows(pl(alice, e)));
      json n = base;
      n["notifications"] = {{"room", bad}};
      CHECK_FALSE(r.allows(pl(alice, n)));
    }
  }
  SUBCASE("structure") {
    json c = base;
    c["users"] = json::array();
    CHECK_FALSE(r.allows(pl(alice, c)));
    json d = base;
    d["users"]["not-a-user"] = 10;
    CHECK_FALSE(r.allows(pl(alice, d)));
    json e = base;
    e["events"] = "m.room.name";
    CHECK_FALSE(r.allows(pl(alice, e)));
  }
}

// ------------------------------------------------------------------ redactions

TEST_CASE("auth: redactions pass the auth rules like any event") {
  room r = room::standard(v11());
  json redaction = make_event("m.room.redaction", bob, {{"redacts", "$target"}});
  CHECK(r.allows(redaction));  // the redact level is not an auth rule
  CHECK_FALSE(r.allows(make_event("m.room.redaction", eve, {{"redacts", "$t"}})));
  r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"events", {{"m.room.redaction", 50}}}});
  CHECK_FALSE(r.allows(redaction));
}

TEST_CASE("auth: applying a redaction (v3-handling-redactions)") {
  room r = room::standard(v11());
  json by_bob = make_event("m.room.message", bob, {{"body", "x"}});
  json by_carol = make_event("m.room.message", carol, {{"body", "x"}});
  auto redaction = [](const std::string& sender) {
    return make_event("m.room.redaction", sender, {{"redacts", "$t"}});
  };
  CHECK(redaction_allowed(redaction(mod), by_carol, r.state));      // redact level 50
  CHECK(redaction_allowed(redaction(bob), by_bob, r.state));        // same server
  CHECK(redaction_allowed(redaction("@other:b.org"), by_bob, r.state));
  CHECK_FALSE(redaction_allowed(redaction(bob), by_carol, r.state));
  r.power_levels({{"users", {{alice, 100}, {mod, 50}}}, {"redact", 0}});
  CHECK(redaction_allowed(redaction(bob), by_carol, r.state));
}

// ------------------------------------------------------------------ helpers

TEST_CASE("auth: power level helpers and defaults") {
  room r10(v10()), r11(v11());
  SUBCASE("no power levels: the creator has 100") {
    CHECK(user_power_level(r10.state, alice) == 100);
    CHECK(user_power_level(r10.state, bob) == 0);
    CHECK(user_power_level(r11.state, alice) == 100);
    // v10 reads content.creator, v11 the sender.
    r10.state[{"m.room.create", ""}]["content"]["creator"] = bob;
    r11.state[{"m.room.create", ""}]["content"]["creator"] = bob;
    CHECK(user_power_level(r10.state, bob) == 100);
    CHECK(user_power_level(r10.state, alice) == 0);
    CHECK(user_power_level(r11.state, alice) == 100);
    CHECK(user_power_level(r11.state, bob) == 0);
  }
  SUBCASE("spec defaults") {
    CHECK(named_power_level(r11.state, "invite") == 0);
    CHECK(named_power_level(r11.state, "kick") == 50);
    CHECK(named_power_level(r11.state, "ban") == 50);
    CHECK(named_power_level(r11.state, "redact") == 50);
    CHECK(named_power_level(r11.state, "state_default") == 50);
    CHECK(named_power_level(r11.state, "events_default") == 0);
    CHECK(named_power_level(r11.state, "users_default") == 0);
    CHECK(required_event_level(r11.state, "m.room.name", true) == 50);
    CHECK(required_event_level(r11.state, "m.room.message", false) == 0);
  }
  SUBCASE("from the power levels event") {
    r11.power_levels({{"users", {{bob, 7}}}, {"users_default", 3}, {"invite", 5},
                      {"events", {{"m.room.message", 9}}}, {"state_default", 40}});
    CHECK(user_power_level(r11.state, bob) == 7);
    CHECK(user_power_level(r11.state, carol) == 3);
    CHECK(user_power_level(r11.state, alice) == 3);  // no creator bonus once levels exist
    CHECK(named_power_level(r11.state, "invite") == 5);
    CHECK(required_event_level(r11.state, "m.room.message", false) == 9);
    CHECK(required_event_level(r11.state, "m.room.topic", true) == 40);
  }
  SUBCASE("malformed stored levels fall back to defaults") {
    r11.power_levels({{"users", "nope"}, {"kick", "x"}, {"events", 3}});
    CHECK(user_power_level(r11.state, bob) == 0);
    CHECK(named_power_level(r11.state, "kick") == 50);
    CHECK(required_event_level(r11.state, "m.room.name", true) == 50);
  }
  SUBCASE("empty state") {
    auth_state none;
    CHECK(user_power_level(none, alice) == 0);
    CHECK(named_power_level(none, "ban") == 50);
  }
}

TEST_CASE("auth: auth_types_for_event") {
  using p = state_key_pair;
  auto has = [](const std::vector<p>& v, const p& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  CHECK(auth_types_for_event(make_event("m.room.create", alice, json::object(), ""), v11()).empty());

  auto msg = auth_types_for_event(make_event("m.room.message", bob, json::object()), v11());
  CHECK(msg == std::vector<p>{{"m.room.create", ""}, {"m.room.power_levels", ""},
                              {"m.room.member", bob}});

  auto join = auth_types_for_event(
      member_event(eve, eve, "join", {{"join_authorised_via_users_server", bob}}), v11());
  CHECK(join.size() == 5);
  CHECK(has(join, {"m.room.member", eve}));
  CHECK(has(join, {"m.room.join_rules", ""}));
  CHECK(has(join, {"m.room.member", bob}));
  // Before v8 (MSC3083) the authorising user is nobody's business.
  auto join7 = auth_types_for_event(
      member_event(eve, eve, "join", {{"join_authorised_via_users_server", bob}}),
      *find_room_version("7"));
  CHECK(join7.size() == 4);
  CHECK_FALSE(has(join7, {"m.room.member", bob}));

  auto invite = auth_types_for_event(member_event(
      bob, eve, "invite", {{"third_party_invite", {{"signed", {{"token", "tok"}}}}}}), v11());
  CHECK(has(invite, {"m.room.third_party_invite", "tok"}));
  CHECK(has(invite, {"m.room.member", eve}));
  CHECK(has(invite, {"m.room.join_rules", ""}));

  auto kick = auth_types_for_event(member_event(mod, bob, "leave"), v11());
  CHECK_FALSE(has(kick, {"m.room.join_rules", ""}));
  CHECK(has(kick, {"m.room.member", bob}));
  CHECK(has(kick, {"m.room.member", mod}));

  auto knock = auth_types_for_event(member_event(eve, eve, "knock"), v11());
  CHECK(knock.size() == 4);  // the sender is the target: listed once
  CHECK(has(knock, {"m.room.join_rules", ""}));

  // Malformed input never throws.
  CHECK(auth_types_for_event(json::array(), v11()).empty());
  json odd = member_event(eve, eve, "invite", {{"third_party_invite", {{"signed", 5}}}});
  odd["content"]["join_authorised_via_users_server"] = 1;
  CHECK(auth_types_for_event(odd, v11()).size() == 4);
}

TEST_CASE("auth: malformed events are rejected without throwing") {
  room r = room::standard(v11(), "public");
  CHECK(r.check(json::array()).has_value());
  CHECK(r.check(json::object()).has_value());
  json e = make_event("m.room.message", bob, {{"body", "hi"}});
  for (const char* key : {"type", "sender", "room_id", "content"}) {
    json bad = e;
    bad[key] = 5;
    CHECK(r.check(bad).has_value());
  }
  json bad_key = e;
  bad_key["state_key"] = 1;
  CHECK(r.check(bad_key).has_value());
  // Garbage in the state does not make checks throw either.
  r.state[{"m.room.join_rules", ""}]["content"] = "public";
  r.state[{"m.room.member", bob}]["content"] = {{"membership", 5}};
  CHECK_FALSE(r.allows(member_event(eve, eve, "join")));  // join rule unreadable: invite
  CHECK_FALSE(r.allows(e));
}
