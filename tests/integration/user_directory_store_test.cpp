// tests/integration/user_directory_store_test.cpp -- user_directory_store on a
// migrated schema (SQLite and PostgreSQL): who a search finds as rooms are
// joined, left and turn public or private.
#include "storage/database.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/user_directory_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

using namespace axon::storage;
using nlohmann::json;

namespace {

using axon::test::pg_db;
using axon::test::sqlite_db;

const std::string priv = "!priv:test";
const std::string open_room = "!open:test";
const std::string alice = "@alice:test";
const std::string bob = "@bob:test";
const std::string carol = "@carol:test";
const std::string dave = "@dave:elsewhere"; // remote

/// Persists state events into a room one at a time, as a writer would.
struct room_builder {
  events_store& es;
  int64_t& pos;
  std::string room;
  int64_t depth = 0;
  std::string prev;

  void state(const std::string& type, const std::string& sender, const std::string& key,
             const json& content) {
    ++pos;
    ++depth;
    event_to_persist e;
    e.stream_ordering = pos;
    e.event_id = "$e" + std::to_string(pos);
    e.room_id = room;
    e.type = type;
    e.sender = sender;
    e.state_key = key;
    e.depth = depth;
    e.origin_server_ts = 1'700'000'000'000 + pos;
    if (type == "m.room.member") {
      e.membership = content.value("membership", "");
      e.local_member = key.size() > 5 && key.compare(key.size() - 5, 5, ":test") == 0;
    }
    if (type == "m.room.create") e.room_version = "10";
    if (!prev.empty()) e.prev_events = {prev};
    e.json = json{{"event_id", e.event_id}, {"room_id", room},   {"type", type},
                  {"sender", sender},       {"state_key", key},  {"content", content},
                  {"depth", depth},         {"origin_server_ts", e.origin_server_ts},
                  {"prev_events", e.prev_events}}
               .dump();
    prev = e.event_id;
    es.persist({e}, "w1", pos);
  }
  void member(const std::string& user, const std::string& membership, json extra = json::object()) {
    extra["membership"] = membership;
    state("m.room.member", user, user, extra);
  }
};

std::vector<std::string> found(user_directory_store& s, const std::string& searcher,
                               const std::string& term, directory_search_options o = {}) {
  std::vector<std::string> out;
  for (auto& u : s.search(searcher, term, 10, o)) out.push_back(u.user_id);
  std::sort(out.begin(), out.end());
  return out;
}

using ids = std::vector<std::string>;

} // namespace

TEST_CASE_TEMPLATE("user_directory_store: sharing, publicity, leaving", DB, sqlite_db, pg_db) {
  DB db_;
  if (!db_.ready()) {
    MESSAGE(std::string(db_.skip_reason()));
    return;
  }
  auto pool_ = open_pool(db_.options());
  run_migrations(*pool_);
  pool& p = *pool_;
  events_store es(p);
  accounts_store accounts(p);
  user_directory_store dir(p);
  for (auto& u : {alice, bob, carol}) accounts.create_user(u, "", false, 0);
  accounts.set_displayname(bob, "Bobby Tables");

  int64_t pos = 0;
  room_builder a{es, pos, priv};
  a.state("m.room.create", alice, "", {{"creator", alice}, {"room_version", "10"}});
  a.member(alice, "join");
  a.state("m.room.join_rules", alice, "", {{"join_rule", "invite"}});
  a.member(bob, "join", {{"displayname", "per-room name"}});
  room_builder o{es, pos, open_room};
  o.state("m.room.create", carol, "", {{"creator", carol}, {"room_version", "10"}});
  o.member(carol, "join");
  o.state("m.room.join_rules", carol, "", {{"join_rule", "invite"}});
  o.member(dave, "join", {{"displayname", "Dave Remote"}});
  for (auto& [room, user] : {std::pair{priv, alice}, {priv, bob}, {open_room, carol},
                             {open_room, dave}})
    dir.refresh_membership(room, user);

  // A shared private room; local users show their profile, not the room's name.
  CHECK(found(dir, alice, "bob") == ids{bob});
  auto hit = dir.search(alice, "tab", 10);
  REQUIRE(hit.size() == 1);
  CHECK(hit[0].display_name == "Bobby Tables");
  CHECK(found(dir, alice, "alice").empty()); // never oneself through a private room
  CHECK(found(dir, alice, "carol").empty());
  CHECK(found(dir, alice, "dave").empty());
  CHECK(found(dir, alice, "obby").empty()); // word prefixes only

  // World readable: public for the directory, remote members with their event's profile.
  o.state("m.room.history_visibility", carol, "", {{"history_visibility", "world_readable"}});
  dir.refresh_room(open_room);
  CHECK(found(dir, alice, "carol") == ids{carol});
  CHECK(found(dir, alice, "remote") == ids{dave});
  CHECK(found(dir, carol, "carol") == ids{carol}); // oneself through a public room
  // Back to shared history and invite only: private again.
  o.state("m.room.history_visibility", carol, "", {{"history_visibility", "shared"}});
  dir.refresh_room(open_room);
  CHECK(found(dir, alice, "carol").empty());
  CHECK(found(dir, carol, "dave") == ids{dave}); // still shares the room
  // A public join rule.
  o.state("m.room.join_rules", carol, "", {{"join_rule", "public"}});
  dir.refresh_room(open_room);
  CHECK(found(dir, bob, "carol") == ids{carol});
  // A join after the room turned public is public from the start, and a
  // membership refreshed twice is harmless.
  o.member(bob, "join");
  dir.refresh_membership(open_room, bob);
  dir.refresh_membership(open_room, bob);
  CHECK(found(dir, dave, "bob") == ids{bob});

  // search_all_users: every local user; prefer_local_users changes the order only.
  accounts.create_user("@erin:test", "", false, 0);
  CHECK(found(dir, alice, "erin").empty());
  CHECK(found(dir, alice, "erin", {true, ""}) == ids{"@erin:test"});
  CHECK(found(dir, "@erin:test", "erin", {true, "test"}).empty());

  // Leaving: the last local member leaving drops the room's remote members too.
  o.member(bob, "leave");
  dir.refresh_membership(open_room, bob);
  CHECK(found(dir, alice, "bob") == ids{bob}); // still in the private room
  o.member(carol, "leave");
  dir.refresh_membership(open_room, carol);
  CHECK(found(dir, alice, "carol").empty());
  CHECK(found(dir, alice, "dave").empty());
  CHECK(found(dir, alice, "dave", {true, ""}).empty());

  // Deactivated users are never found.
  accounts.deactivate(bob);
  CHECK(found(dir, alice, "bob").empty());
  CHECK(found(dir, alice, "bob", {true, ""}).empty());
}
