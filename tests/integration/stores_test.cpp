// tests/integration/stores_test.cpp -- accounts_store, rooms_store and
// events_store on a migrated schema: the same cases on SQLite (a temporary
// file) and PostgreSQL (a fresh database on AXON_TEST_PG).
#include "storage/database.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/client_ips_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/federation_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "storage/stores/server_keys_store.hpp"
#include "storage/stores/to_device_store.hpp"
#include "storage/stores/ui_auth_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

using namespace axon::storage;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- engines under test -----------------------------------------------------

using axon::test::sqlite_db;
using axon::test::pg_db;

/// A migrated database and a pool on it; the pool closes before the database goes.
#define AXON_STORES_OR_SKIP(DB)                                                                    \
  DB db_;                                                                                          \
  if (!db_.ready()) {                                                                              \
    MESSAGE(std::string(db_.skip_reason()));                                                       \
    return;                                                                                        \
  }                                                                                                \
  auto pool_ = open_pool(db_.options());                                                           \
  run_migrations(*pool_);                                                                          \
  pool& p = *pool_

int64_t count(pool& p, const std::string& sql, const sql_params& params = {}) {
  return p.acquire()->exec(sql, params).rows.at(0).i64(0);
}

// ---- a room history built by hand ---------------------------------------------

const std::string room_a = "!a:test";
const std::string room_b = "!b:test";
const std::string alice = "@alice:test";
const std::string bob = "@bob:test";
const std::string dave = "@dave:elsewhere"; // remote: no local membership row
constexpr int64_t ts0 = 1'700'000'000'000;

std::string eid(int64_t pos) { return "$e" + std::to_string(pos); }

/// Event `pos` of a room, with JSON as the writer would store it.
event_to_persist ev(int64_t pos, const std::string& room, const std::string& type,
                    const std::string& sender, std::optional<std::string> state_key,
                    json content, int64_t depth, std::vector<std::string> prevs) {
  event_to_persist e;
  e.stream_ordering = pos;
  e.event_id = eid(pos);
  e.room_id = room;
  e.type = type;
  e.sender = sender;
  e.state_key = state_key;
  e.depth = depth;
  e.origin_server_ts = ts0 + pos;
  if (type == "m.room.member") {
    e.membership = content.value("membership", "");
    e.local_member = state_key && state_key->size() > 5 &&
                     state_key->compare(state_key->size() - 5, 5, ":test") == 0;
  }
  if (type == "m.room.create") e.room_version = "10";
  e.prev_events = prevs;
  json j = {{"event_id", e.event_id},   {"room_id", room},         {"type", type},
            {"sender", sender},         {"content", content},      {"depth", depth},
            {"origin_server_ts", ts0 + pos}, {"prev_events", prevs}};
  if (state_key) j["state_key"] = *state_key;
  e.json = j.dump();
  return e;
}

std::vector<event_to_persist> room_a_history() {
  std::vector<event_to_persist> h;
  auto add = [&](std::string type, std::string sender, std::optional<std::string> sk,
                 json content) {
    int64_t pos = static_cast<int64_t>(h.size()) + 1;
    std::vector<std::string> prevs;
    if (pos > 1) prevs.push_back(eid(pos - 1));
    h.push_back(ev(pos, room_a, type, sender, sk, content, pos, prevs));
  };
  add("m.room.create", alice, "", {{"creator", alice}, {"room_version", "10"}});     // 1
  add("m.room.member", alice, alice, {{"membership", "join"}});                      // 2
  add("m.room.power_levels", alice, "", {{"users", {{alice, 100}}}});                // 3
  add("m.room.message", alice, std::nullopt, {{"msgtype", "m.text"}, {"body", "one"}}); // 4
  add("m.room.member", bob, bob, {{"membership", "join"}});                          // 5
  add("m.room.message", bob, std::nullopt, {{"msgtype", "m.text"}, {"body", "two"}}); // 6
  add("m.room.name", alice, "", {{"name", "First"}});                                // 7
  add("m.room.name", alice, "", {{"name", "Second"}});                               // 8
  add("m.room.member", dave, dave, {{"membership", "join"}});                        // 9
  add("m.room.redaction", alice, std::nullopt, json::object());                      // 10
  add("m.room.member", bob, bob, {{"membership", "leave"}});                         // 11
  // 4 was sent with a transaction id.
  h[3].txn_user = alice;
  h[3].txn_device = "DEV";
  h[3].txn_id = "t1";
  // 10 redacts 6.
  auto& red = h[9];
  red.redacts = eid(6);
  auto j = json::parse(red.json);
  j["redacts"] = eid(6);
  red.json = j.dump();
  auto target = json::parse(h[5].json);
  target["content"] = json::object();
  target["unsigned"] = {{"redacted_because", j}};
  red.redacted_json = target.dump();
  return h;
}

/// Room B: create, join, one message.
std::vector<event_to_persist> room_b_history() {
  return {ev(12, room_b, "m.room.create", alice, "", {{"creator", alice}}, 1, {}),
          ev(13, room_b, "m.room.member", alice, alice, {{"membership", "join"}}, 2, {eid(12)}),
          ev(14, room_b, "m.room.message", alice, std::nullopt, {{"body", "hi"}}, 3, {eid(13)})};
}

/// Persists room A in three batches and room B in one.
void persist_all(events_store& es) {
  auto a = room_a_history();
  es.persist({a.begin(), a.begin() + 3}, "w1", 3);
  es.persist({a.begin() + 3, a.begin() + 9}, "w1", 9);
  es.persist({a.begin() + 9, a.end()}, "w1", 11);
  es.persist(room_b_history(), "w1", 14);
}

std::vector<int64_t> positions(const std::vector<stored_event>& v) {
  std::vector<int64_t> out;
  for (auto& e : v) {
    CHECK(e.json.at("event_id") == eid(e.stream_ordering));
    out.push_back(e.stream_ordering);
  }
  return out;
}

/// "type|state_key|event_id" of each state event, sorted.
std::set<std::string> state_set(const std::vector<json>& v) {
  std::set<std::string> out;
  for (auto& e : v)
    out.insert(e.at("type").get<std::string>() + "|" + e.at("state_key").get<std::string>() + "|" +
               e.at("event_id").get<std::string>());
  return out;
}

std::string sk(const std::string& type, const std::string& key, int64_t pos) {
  return type + "|" + key + "|" + eid(pos);
}

} // namespace

// ---- accounts ---------------------------------------------------------------------

TEST_CASE_TEMPLATE("accounts_store: users", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  accounts_store acc(p);
  CHECK_FALSE(acc.get_user(alice));
  CHECK_FALSE(acc.user_exists(alice));
  CHECK(acc.create_user(alice, "hash1", true, ts0));
  CHECK_FALSE(acc.create_user(alice, "other", false, ts0 + 1)); // duplicate refused
  CHECK(acc.create_user(bob, "", false, ts0));

  auto a = acc.get_user(alice);
  REQUIRE(a);
  CHECK(a->name == alice);
  CHECK(a->password_hash == "hash1"); // the duplicate changed nothing
  CHECK(a->admin);
  CHECK_FALSE(a->deactivated);
  auto b = acc.get_user(bob);
  REQUIRE(b);
  CHECK(b->password_hash.empty());
  CHECK_FALSE(b->admin);
  CHECK(count(p, "SELECT COUNT(*) FROM users WHERE password_hash IS NULL") == 1);
  CHECK(acc.user_exists(bob));

  acc.set_password_hash(bob, "hash2");
  CHECK(acc.get_user(bob)->password_hash == "hash2");
  CHECK(acc.get_user(alice)->password_hash == "hash1");
}

TEST_CASE_TEMPLATE("accounts_store: devices and tokens", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  accounts_store acc(p);
  REQUIRE(acc.create_user(alice, "h", false, ts0));
  REQUIRE(acc.create_user(bob, "h", false, ts0));
  acc.upsert_device(alice, "D1", std::string("phone"), ts0);
  acc.upsert_device(alice, "D1", std::nullopt, ts0 + 5); // kept, last_seen updated
  acc.upsert_device(alice, "D2", std::nullopt, ts0);
  acc.upsert_device(bob, "D1", std::nullopt, ts0);
  CHECK(count(p, "SELECT COUNT(*) FROM devices") == 3);
  CHECK(p.acquire()
          ->exec("SELECT display_name, last_seen FROM devices WHERE user_id = $1 AND device_id = $2",
                 {alice, std::string("D1")})
          .rows.at(0)
          .str(0) == "phone");
  CHECK(count(p, "SELECT last_seen FROM devices WHERE user_id = $1 AND device_id = 'D1'",
              {alice}) == ts0 + 5);

  acc.add_access_token("tokA1", alice, "D1", ts0);
  acc.add_access_token("tokA1b", alice, "D1", ts0); // a second token on the same device
  acc.add_access_token("tokA2", alice, "D2", ts0);
  acc.add_access_token("tokB1", bob, "D1", ts0);
  CHECK_THROWS_AS(acc.add_access_token("tokA1", bob, "D1", ts0), db_error);

  auto t = acc.find_token("tokA2");
  REQUIRE(t);
  CHECK(t->user_id == alice);
  CHECK(t->device_id == "D2");
  CHECK_FALSE(acc.find_token("nope"));

  // Logout: the token, every token of its device, and the device go.
  acc.delete_token_and_device("tokA1");
  CHECK_FALSE(acc.find_token("tokA1"));
  CHECK_FALSE(acc.find_token("tokA1b"));
  CHECK(acc.find_token("tokA2"));
  CHECK(acc.find_token("tokB1")); // bob's device D1 is another device
  CHECK(count(p, "SELECT COUNT(*) FROM devices WHERE user_id = $1", {alice}) == 1);
  acc.delete_token_and_device("nope"); // unknown token: nothing happens
  CHECK(count(p, "SELECT COUNT(*) FROM devices") == 2);

  // Logout everywhere.
  acc.add_access_token("tokA3", alice, "D3", ts0);
  acc.upsert_device(alice, "D3", std::nullopt, ts0);
  acc.delete_all_tokens_and_devices(alice);
  CHECK_FALSE(acc.find_token("tokA2"));
  CHECK_FALSE(acc.find_token("tokA3"));
  CHECK(count(p, "SELECT COUNT(*) FROM devices WHERE user_id = $1", {alice}) == 0);
  CHECK(acc.find_token("tokB1"));

  // A deactivated user's tokens no longer authenticate.
  p.acquire()->exec("UPDATE users SET deactivated = 1 WHERE name = $1", {bob});
  CHECK_FALSE(acc.find_token("tokB1"));
  CHECK(acc.get_user(bob)->deactivated);
}

TEST_CASE_TEMPLATE("accounts_store: profiles", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  accounts_store acc(p);
  auto none = acc.get_profile(alice);
  CHECK_FALSE(none.displayname);
  CHECK_FALSE(none.avatar_url);

  acc.set_displayname(alice, std::string("Alice 🎉"));
  auto pr = acc.get_profile(alice);
  CHECK(pr.displayname == std::optional<std::string>("Alice 🎉"));
  CHECK_FALSE(pr.avatar_url);

  acc.set_avatar_url(alice, std::string("mxc://test/abc"));
  pr = acc.get_profile(alice);
  CHECK(pr.displayname == std::optional<std::string>("Alice 🎉")); // kept
  CHECK(pr.avatar_url == std::optional<std::string>("mxc://test/abc"));

  acc.set_displayname(alice, std::nullopt);
  pr = acc.get_profile(alice);
  CHECK_FALSE(pr.displayname);
  CHECK(pr.avatar_url == std::optional<std::string>("mxc://test/abc"));
  acc.set_displayname(alice, std::string(""));
  CHECK(acc.get_profile(alice).displayname == std::optional<std::string>("")); // empty is not NULL
  CHECK_FALSE(acc.get_profile(bob).displayname);
}

TEST_CASE_TEMPLATE("accounts_store: filters", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  accounts_store acc(p);
  const std::string f1 = R"({"room":{"timeline":{"limit":10}}})";
  const std::string f2 = R"({"presence":{"not_types":["*"]}})";
  CHECK(acc.add_filter(alice, f1) == 0);
  CHECK(acc.add_filter(alice, f2) == 1);
  CHECK(acc.add_filter(alice, f1) == 0); // identical filter reused
  CHECK(acc.add_filter(bob, f2) == 0);   // ids are per user
  CHECK(acc.add_filter(alice, f1 + " ") == 2);
  CHECK(count(p, "SELECT COUNT(*) FROM user_filters") == 4);

  CHECK(acc.get_filter(alice, 0) == f1);
  CHECK(acc.get_filter(alice, 1) == f2);
  CHECK(acc.get_filter(bob, 0) == f2);
  CHECK_FALSE(acc.get_filter(bob, 1));
  CHECK_FALSE(acc.get_filter(alice, 7));
  CHECK_FALSE(acc.get_filter(alice, -1));
}

TEST_CASE_TEMPLATE("accounts_store: filters uploaded concurrently get distinct ids", DB,
                   sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  accounts_store acc(p);
  constexpr int threads = 8, per_thread = 5;
  std::vector<std::vector<int64_t>> ids(threads);
  std::vector<std::string> errors(threads);
  std::vector<std::thread> uploaders;
  for (int t = 0; t < threads; ++t)
    uploaders.emplace_back([&, t] {
      try {
        for (int i = 0; i < per_thread; ++i)
          ids[t].push_back(acc.add_filter(
            alice, R"({"n":)" + std::to_string(t * per_thread + i) + "}"));
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (auto& th : uploaders) th.join();
  std::set<int64_t> all;
  for (int t = 0; t < threads; ++t) {
    CHECK_MESSAGE(errors[t].empty(), errors[t]);
    all.insert(ids[t].begin(), ids[t].end());
  }
  CHECK(all.size() == static_cast<size_t>(threads * per_thread));
  CHECK(*all.begin() == 0);
  CHECK(*all.rbegin() == threads * per_thread - 1);
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < static_cast<int>(ids[t].size()); ++i)
      CHECK(acc.get_filter(alice, ids[t][i]) ==
            R"({"n":)" + std::to_string(t * per_thread + i) + "}");
}

TEST_CASE_TEMPLATE("accounts_store: registration nonces", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  accounts_store acc(p);
  const int64_t minute = 60'000;
  acc.add_nonce("n1", ts0);
  CHECK(acc.consume_nonce("n1", ts0 + 1000, minute));
  CHECK_FALSE(acc.consume_nonce("n1", ts0 + 1000, minute)); // consumed once

  acc.add_nonce("n2", ts0);
  CHECK_FALSE(acc.consume_nonce("n2", ts0 + 2 * minute, minute)); // expired
  CHECK(acc.consume_nonce("n2", ts0 + minute, minute));          // at the limit: still valid
  CHECK_FALSE(acc.consume_nonce("never", ts0, minute));

  // Adding a nonce sweeps those older than an hour.
  acc.add_nonce("old", ts0);
  acc.add_nonce("new", ts0 + 2 * 3600 * 1000);
  CHECK(count(p, "SELECT COUNT(*) FROM registration_nonces WHERE nonce = 'old'") == 0);
  CHECK(count(p, "SELECT COUNT(*) FROM registration_nonces WHERE nonce = 'new'") == 1);
}

// ---- user-interactive auth sessions ---------------------------------------------------

TEST_CASE_TEMPLATE("ui_auth_store: sessions remember parameters and notes", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  ui_auth_store uia(p);
  uia.create("s1", ts0, ts0 - 1, R"({"username":"alice"})");
  CHECK(uia.clientdict("s1") == R"({"username":"alice"})");
  CHECK_FALSE(uia.clientdict("none"));
  uia.set_clientdict("s1", "{}");
  CHECK(uia.clientdict("s1") == "{}");

  CHECK_FALSE(uia.data("s1", "password_hash"));
  uia.set_data("s1", "password_hash", "h1");
  uia.set_data("s1", "registered_user_id", "@alice:x");
  uia.set_data("s1", "password_hash", "h2"); // replaced, the other kept
  CHECK(uia.data("s1", "password_hash") == "h2");
  CHECK(uia.data("s1", "registered_user_id") == "@alice:x");
  uia.set_data("none", "k", "v"); // an unknown session gets nothing
  CHECK_FALSE(uia.data("none", "k"));

  uia.complete("s1", "m.login.dummy");
  CHECK(uia.completed("s1").count("m.login.dummy") == 1);
  // A new session sweeps the expired ones, notes and all.
  uia.create("s2", ts0 + 10, ts0 + 1);
  CHECK_FALSE(uia.exists("s1"));
  CHECK_FALSE(uia.data("s1", "registered_user_id"));
  CHECK(uia.completed("s1").empty());
  CHECK(uia.clientdict("s2") == "{}");
}

// ---- other servers' keys (server_signature_keys, server_keys_json) ---------------------

TEST_CASE_TEMPLATE("server_keys_store: checked answers, never shortened", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  server_keys_store keys(p);
  auto current = axon::matrix::signing_key::generate();
  auto old = axon::matrix::signing_key::generate();
  auto answer = axon::matrix::own_server_keys("remote.example", current,
                                              {{old.key_id(), old.public_key, ts0 - 1000}}, ts0 + 86400000);
  auto checked = axon::matrix::check_server_keys(answer, "remote.example");
  REQUIRE(checked);
  keys.store(*checked, answer.dump(), "remote.example", ts0);

  auto k = keys.key("remote.example", current.key_id());
  REQUIRE(k);
  CHECK(k->public_key == current.public_key);
  CHECK(k->valid_until_ts == ts0 + 86400000);
  CHECK(k->from_server == "remote.example");
  CHECK(k->added_ts == ts0);
  auto o = keys.key("remote.example", old.key_id());
  REQUIRE(o);
  CHECK(o->public_key == old.public_key);
  CHECK(o->valid_until_ts == ts0 - 1000);
  CHECK_FALSE(keys.key("remote.example", "ed25519:none"));
  CHECK_FALSE(keys.key("other.example", current.key_id()));

  auto stored = keys.answers("remote.example");
  REQUIRE(stored.size() == 2);
  CHECK(nlohmann::json::parse(stored[0].json) == answer); // signatures intact
  CHECK(keys.answers("remote.example", current.key_id()).size() == 1);

  // A notary's older copy (shorter validity) changes nothing ...
  auto stale = axon::matrix::own_server_keys("remote.example", current, {}, ts0 + 1000);
  keys.store(*axon::matrix::check_server_keys(stale, "remote.example"), stale.dump(), "notary.example", ts0 + 5);
  CHECK(keys.key("remote.example", current.key_id())->valid_until_ts == ts0 + 86400000);
  CHECK(keys.key("remote.example", current.key_id())->from_server == "remote.example");
  // ... a fresher one extends it.
  auto fresh = axon::matrix::own_server_keys("remote.example", current, {}, ts0 + 2 * 86400000);
  keys.store(*axon::matrix::check_server_keys(fresh, "remote.example"), fresh.dump(), "remote.example", ts0 + 10);
  CHECK(keys.key("remote.example", current.key_id())->valid_until_ts == ts0 + 2 * 86400000);
  CHECK(nlohmann::json::parse(keys.answers("remote.example", current.key_id())[0].json) == fresh);
}

// ---- client ips (user_ips) -----------------------------------------------------------

TEST_CASE_TEMPLATE("client_ips: batched, with Synapse's 120 s granularity", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  int64_t now = ts0;
  {
    client_ips ips(p, [&] { return now; });
    ips.record(alice, "h1", "D1", "10.0.0.1", "ua/1");
    CHECK(ips.pending() == 1);
    CHECK(count(p, "SELECT COUNT(*) FROM user_ips") == 0); // not written yet
    // Read through the batch.
    auto seen = ips.last_seen_by_device(alice);
    REQUIRE(seen.count("D1"));
    CHECK(seen["D1"].ip == "10.0.0.1");
    CHECK(seen["D1"].last_seen == ts0);
    ips.flush();
    CHECK(ips.pending() == 0);
    CHECK(count(p, "SELECT COUNT(*) FROM user_ips") == 1);

    // Within 120 s the same token, address and agent are not recorded again.
    now = ts0 + client_ips::granularity_ms - 1;
    ips.record(alice, "h1", "D1", "10.0.0.1", "ua/1");
    CHECK(ips.pending() == 0);
    // Another address, agent or token is.
    ips.record(alice, "h1", "D1", "10.0.0.2", "ua/1");
    ips.record(alice, "h1", "D1", "10.0.0.1", "ua/2");
    ips.record(alice, "h2", "D2", "10.0.0.1", "ua/1");
    CHECK(ips.pending() == 3);
    ips.flush();
    // (user, token, ip) is one row: the agent is updated in place.
    CHECK(count(p, "SELECT COUNT(*) FROM user_ips WHERE access_token = 'h1'") == 2);
    CHECK(count(p, "SELECT COUNT(*) FROM user_ips WHERE user_agent = 'ua/2'") == 1);

    // After 120 s it is recorded again.
    now = ts0 + client_ips::granularity_ms;
    ips.record(alice, "h1", "D1", "10.0.0.1", "ua/1");
    CHECK(ips.pending() == 1);
    auto seen2 = ips.last_seen_by_device(alice);
    CHECK(seen2["D1"].last_seen == now);
    CHECK(seen2["D1"].ip == "10.0.0.1");
    CHECK(seen2["D2"].last_seen == ts0 + client_ips::granularity_ms - 1);
    auto all = ips.for_user(alice);
    REQUIRE(all.size() == 3);
    CHECK(all[0].last_seen == now); // most recent first, the pending row merged
    CHECK(ips.for_user(bob).empty());
  } // the destructor writes what is pending
  CHECK(count(p, "SELECT COUNT(*) FROM user_ips WHERE last_seen = $1",
              {ts0 + client_ips::granularity_ms}) == 1);

  // Rows older than 28 days go at the next flush.
  now = ts0 + client_ips::max_age_ms + 2 * client_ips::granularity_ms;
  client_ips later(p, [&] { return now; });
  later.record(bob, "hb", "DB", "10.0.0.9", "ua");
  later.flush();
  CHECK(count(p, "SELECT COUNT(*) FROM user_ips WHERE user_id = $1", {alice}) == 0);
  CHECK(count(p, "SELECT COUNT(*) FROM user_ips WHERE user_id = $1", {bob}) == 1);
}

// ---- rooms: aliases ------------------------------------------------------------------

TEST_CASE_TEMPLATE("rooms_store: aliases", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  rooms_store rooms(p);
  CHECK(rooms.create_alias("#b:test", room_a, alice));
  CHECK(rooms.create_alias("#a:test", room_a, bob));
  CHECK(rooms.create_alias("#c:test", room_b, alice));
  CHECK_FALSE(rooms.create_alias("#a:test", room_b, alice)); // taken

  CHECK(rooms.resolve_alias("#a:test") == room_a); // the refused one changed nothing
  CHECK(rooms.alias_creator("#a:test") == bob);
  CHECK_FALSE(rooms.resolve_alias("#nope:test"));
  CHECK_FALSE(rooms.alias_creator("#nope:test"));
  CHECK(rooms.aliases_for_room(room_a) == std::vector<std::string>{"#a:test", "#b:test"});
  CHECK(rooms.aliases_for_room("!none:test").empty());

  CHECK(rooms.delete_alias("#a:test"));
  CHECK_FALSE(rooms.delete_alias("#a:test"));
  CHECK_FALSE(rooms.resolve_alias("#a:test"));
  CHECK(rooms.aliases_for_room(room_a) == std::vector<std::string>{"#b:test"});
  CHECK(rooms.create_alias("#a:test", room_b, alice)); // free again
  CHECK(rooms.resolve_alias("#a:test") == room_b);
}

// ---- events: persist and readers --------------------------------------------------------

TEST_CASE_TEMPLATE("events_store: persist and the timeline readers", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  CHECK(es.max_stream_ordering() == 0);
  CHECK_FALSE(es.load_room(room_a));
  persist_all(es);
  CHECK(es.max_stream_ordering() == 14);
  CHECK(count(p, "SELECT stream_id FROM stream_positions WHERE stream_name = 'events' AND "
                 "instance_name = 'w1'") == 14);

  using v = std::vector<int64_t>;
  CHECK(positions(es.room_events(room_a, 0, 100, 100, false)) ==
        v{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(positions(es.room_events(room_a, 0, 100, 3, true)) == v{11, 10, 9});
  CHECK(positions(es.room_events(room_a, 0, 100, 3, false)) == v{1, 2, 3});
  // from is exclusive, to inclusive.
  CHECK(positions(es.room_events(room_a, 4, 8, 10, false)) == v{5, 6, 7, 8});
  CHECK(positions(es.room_events(room_a, 4, 8, 2, true)) == v{8, 7});
  CHECK(positions(es.room_events(room_a, 4, 8, 2, false)) == v{5, 6});
  CHECK(positions(es.room_events(room_a, 11, 100, 10, true)).empty());
  CHECK(positions(es.room_events(room_b, 0, 100, 10, true)) == v{14, 13, 12});
  CHECK(positions(es.room_events(room_b, 0, 11, 10, true)).empty());
  CHECK(es.room_events("!none:test", 0, 100, 10, true).empty());

  // get_event, and the redaction applied in place.
  auto four = es.get_event(eid(4));
  REQUIRE(four);
  CHECK(four->stream_ordering == 4);
  CHECK(four->json.at("content").at("body") == "one");
  auto six = es.get_event(eid(6));
  REQUIRE(six);
  CHECK(six->json.at("content") == json::object());
  CHECK(six->json.at("unsigned").at("redacted_because").at("event_id") == eid(10));
  CHECK(count(p, "SELECT COUNT(*) FROM events WHERE redacted_by = $1", {eid(10)}) == 1);
  CHECK_FALSE(es.get_event("$nope"));

  // rooms_with_events: (from, to].
  auto rooms = [&](int64_t from, int64_t to) {
    auto r = es.rooms_with_events(from, to);
    std::sort(r.begin(), r.end());
    return r;
  };
  CHECK(rooms(0, 14) == std::vector<std::string>{room_a, room_b});
  CHECK(rooms(3, 4) == std::vector<std::string>{room_a});
  CHECK(rooms(11, 14) == std::vector<std::string>{room_b});
  CHECK(rooms(10, 11) == std::vector<std::string>{room_a});
  CHECK(rooms(14, 100).empty());

  // Transaction ids.
  CHECK(es.find_txn(alice, "DEV", room_a, "t1") == eid(4));
  CHECK_FALSE(es.find_txn(alice, "OTHER", room_a, "t1"));
  CHECK_FALSE(es.find_txn(bob, "DEV", room_a, "t1"));
  CHECK_FALSE(es.find_txn(alice, "DEV", room_b, "t1"));
  CHECK_FALSE(es.find_txn(alice, "DEV", room_a, "t2"));
}

TEST_CASE_TEMPLATE("events_store: the shared position sequence of several writers", DB, sqlite_db,
                   pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  persist_all(es);
  // Prepared past every stored event, never backwards, then handed out in order.
  CHECK(es.prepare_position_sequence() == 14);
  auto first = es.allocate_positions(3);
  CHECK(first == std::vector<int64_t>{15, 16, 17});
  CHECK(es.prepare_position_sequence() == 17);
  CHECK(es.allocate_positions(1) == std::vector<int64_t>{18});
}

TEST_CASE_TEMPLATE("events_store: events writers keep their numbers for tokens", DB, sqlite_db,
                   pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  CHECK(es.instance_ids({"w1", "w2"}) == std::vector<int64_t>{1, 2});
  // Reordered, and a writer added: the numbers stay the writers'.
  CHECK(es.instance_ids({"w3", "w2", "w1"}) == std::vector<int64_t>{3, 2, 1});
  CHECK(es.instance_ids({"w2"}) == std::vector<int64_t>{2});
}

TEST_CASE_TEMPLATE("events_store: state at positions and state changes", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  persist_all(es);
  using s = std::set<std::string>;
  const std::string create = "m.room.create", member = "m.room.member",
                    pl = "m.room.power_levels", name = "m.room.name";

  CHECK(es.state_at(room_a, 0).empty());
  CHECK(state_set(es.state_at(room_a, 1)) == s{sk(create, "", 1)});
  CHECK(state_set(es.state_at(room_a, 3)) ==
        s{sk(create, "", 1), sk(member, alice, 2), sk(pl, "", 3)});
  CHECK(state_set(es.state_at(room_a, 4)) == state_set(es.state_at(room_a, 3))); // a message
  CHECK(state_set(es.state_at(room_a, 7)) == s{sk(create, "", 1), sk(member, alice, 2),
                                               sk(pl, "", 3), sk(member, bob, 5), sk(name, "", 7)});
  auto at8 = es.state_at(room_a, 8);
  CHECK(state_set(at8) == s{sk(create, "", 1), sk(member, alice, 2), sk(pl, "", 3),
                            sk(member, bob, 5), sk(name, "", 8)});
  for (auto& e : at8)
    if (e["type"] == name) CHECK(e["content"]["name"] == "Second");
  CHECK(state_set(es.state_at(room_a, 100)) ==
        s{sk(create, "", 1), sk(member, alice, 2), sk(pl, "", 3), sk(name, "", 8),
          sk(member, dave, 9), sk(member, bob, 11)});
  // Another room's state never leaks in.
  CHECK(state_set(es.state_at(room_b, 100)) == s{sk(create, "", 12), sk(member, alice, 13)});
  CHECK(es.state_at(room_b, 11).empty());

  // state_changes: newest per key among (from, to].
  CHECK(state_set(es.state_changes(room_a, 0, 3)) ==
        s{sk(create, "", 1), sk(member, alice, 2), sk(pl, "", 3)});
  CHECK(state_set(es.state_changes(room_a, 4, 7)) == s{sk(member, bob, 5), sk(name, "", 7)});
  CHECK(state_set(es.state_changes(room_a, 6, 8)) == s{sk(name, "", 8)}); // First replaced
  CHECK(state_set(es.state_changes(room_a, 7, 11)) ==
        s{sk(name, "", 8), sk(member, dave, 9), sk(member, bob, 11)});
  CHECK(es.state_changes(room_a, 9, 10).empty()); // only a redaction
  CHECK(es.state_changes(room_a, 11, 100).empty());
  // Ordered by stream position.
  auto ch = es.state_changes(room_a, 4, 11);
  for (size_t i = 1; i < ch.size(); ++i)
    CHECK(ch[i - 1]["depth"].get<int64_t>() < ch[i]["depth"].get<int64_t>());
}

TEST_CASE_TEMPLATE("events_store: past state follows resolved forks (room_state_deltas)", DB,
                   sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  rooms_store rooms(p);
  persist_all(es);
  using s = std::set<std::string>;
  const std::string member = "m.room.member", name = "m.room.name", topic = "m.room.topic",
                    hv = "m.room.history_visibility";
  // 15: a fork's name event that loses its key: the state keeps "Second" (8).
  auto lost = ev(15, room_a, name, alice, "", {{"name", "Fork"}}, 5, {eid(4)});
  lost.current_state = std::vector<current_state_change>{};
  es.persist({lost}, "w1", 15);
  // 16: a fork's topic that wins, and the resolution takes the name back to
  // "First" (7) and dave out of the room.
  auto won = ev(16, room_a, topic, alice, "", {{"topic", "T"}}, 13, {eid(15), eid(11)});
  won.current_state = std::vector<current_state_change>{
    {topic, "", eid(16), "", 16}, {name, "", eid(7), "", 7}, {member, dave, "", "", 0, true}};
  es.persist({won}, "w1", 16);
  // 17: a history_visibility fork that loses; the room had none before.
  auto hidden = ev(17, room_a, hv, alice, "", {{"history_visibility", "joined"}}, 14, {eid(16)});
  hidden.current_state = std::vector<current_state_change>{};
  es.persist({hidden}, "w1", 17);

  s before = {sk("m.room.create", "", 1), sk(member, alice, 2), sk("m.room.power_levels", "", 3),
              sk(name, "", 8), sk(member, dave, 9), sk(member, bob, 11)};
  CHECK(state_set(es.state_at(room_a, 14)) == before);
  CHECK(state_set(es.state_at(room_a, 15)) == before); // the loser is in the timeline only
  s after = {sk("m.room.create", "", 1), sk(member, alice, 2), sk("m.room.power_levels", "", 3),
             sk(name, "", 7), sk(member, bob, 11), sk(topic, "", 16)};
  CHECK(state_set(es.state_at(room_a, 16)) == after);
  CHECK(state_set(es.state_at(room_a, 17)) == after);
  // Earlier positions are as they were.
  CHECK(state_set(es.state_at(room_a, 8)).count(sk(name, "", 8)) == 1);

  CHECK(es.state_changes(room_a, 11, 15).empty());
  CHECK(state_set(es.state_changes(room_a, 11, 16)) == s{sk(name, "", 7), sk(topic, "", 16)});
  CHECK(state_set(es.state_changes(room_a, 15, 17)) == s{sk(name, "", 7), sk(topic, "", 16)});
  CHECK(es.state_changes(room_a, 16, 17).empty());

  CHECK(state_set(es.members_at(room_a, {dave, bob}, 15)) ==
        s{sk(member, dave, 9), sk(member, bob, 11)});
  CHECK(state_set(es.members_at(room_a, {dave, bob}, 16)) == s{sk(member, bob, 11)});

  REQUIRE(rooms.membership_at(dave, room_a, 15));
  CHECK(rooms.membership_at(dave, room_a, 15)->membership == "join");
  CHECK_FALSE(rooms.membership_at(dave, room_a, 16));
  CHECK(rooms.membership_at(bob, room_a, 16)->membership == "leave");

  // The history-visibility view: the lost "joined" is followed, at its own
  // position, by the resolved state (no event: the default).
  auto vh = es.visibility_history(room_a, dave, 17);
  REQUIRE(vh.size() == 4);
  CHECK((!vh[0].is_visibility && vh[0].stream_ordering == 9 && vh[0].membership == "join"));
  CHECK((!vh[1].is_visibility && vh[1].stream_ordering == 16 && vh[1].membership.empty()));
  CHECK((vh[2].is_visibility && vh[2].stream_ordering == 17 &&
         vh[2].content.value("history_visibility", "") == "joined"));
  CHECK((vh[3].is_visibility && vh[3].stream_ordering == 17 && vh[3].content.is_null()));
}

TEST_CASE_TEMPLATE("events_store: load_room gives state, extremities and depth", DB, sqlite_db,
                   pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  persist_all(es);

  auto a = es.load_room(room_a);
  REQUIRE(a);
  CHECK(a->room_version == "10");
  CHECK(state_set(a->state) ==
        std::set<std::string>{sk("m.room.create", "", 1), sk("m.room.member", alice, 2),
                              sk("m.room.power_levels", "", 3), sk("m.room.name", "", 8),
                              sk("m.room.member", dave, 9), sk("m.room.member", bob, 11)});
  CHECK(a->extremities == std::vector<std::string>{eid(11)}); // a linear chain: one
  CHECK(a->max_depth == 11);

  // Persisted in one batch, room B's extremity is its newest event.
  auto b = es.load_room(room_b);
  REQUIRE(b);
  CHECK(b->room_version == "10");
  CHECK(b->extremities == std::vector<std::string>{eid(14)});
  CHECK(b->max_depth == 3);
  CHECK_FALSE(es.load_room("!none:test"));

  // A later batch moves the extremity on.
  es.persist({ev(15, room_a, "m.room.message", alice, std::nullopt, {{"body", "later"}}, 12,
                 {eid(11)})},
             "w1", 15);
  a = es.load_room(room_a);
  REQUIRE(a);
  CHECK(a->extremities == std::vector<std::string>{eid(15)});
  CHECK(a->max_depth == 12);
  CHECK(es.load_room(room_b)->extremities == std::vector<std::string>{eid(14)});
}

TEST_CASE_TEMPLATE("events_store: a failing batch stores nothing", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  auto a = room_a_history();
  es.persist({a.begin(), a.begin() + 3}, "w1", 3);

  // The second event reuses an event id: the whole batch is refused.
  auto bad = ev(5, room_a, "m.room.message", alice, std::nullopt, {{"body", "x"}}, 5, {eid(4)});
  bad.event_id = eid(2);
  auto j = json::parse(bad.json);
  j["event_id"] = eid(2);
  bad.json = j.dump();
  CHECK_THROWS_AS(es.persist({a[3], bad}, "w1", 5), db_error);

  CHECK(es.max_stream_ordering() == 3);
  CHECK_FALSE(es.get_event(eid(4)));
  CHECK_FALSE(es.find_txn(alice, "DEV", room_a, "t1"));
  auto snap = es.load_room(room_a);
  REQUIRE(snap);
  CHECK(snap->extremities == std::vector<std::string>{eid(3)});
  CHECK(count(p, "SELECT stream_id FROM stream_positions WHERE instance_name = 'w1'") == 3);

  // And the rest can still be written afterwards.
  es.persist({a.begin() + 3, a.end()}, "w1", 11);
  CHECK(es.max_stream_ordering() == 11);
}

// ---- rooms: rows, memberships and current state -------------------------------------------

TEST_CASE_TEMPLATE("rooms_store: rooms, memberships and current state", DB, sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  events_store es(p);
  rooms_store rooms(p);
  persist_all(es);

  auto r = rooms.get_room(room_a);
  REQUIRE(r);
  CHECK(r->room_id == room_a);
  CHECK(r->room_version == "10");
  CHECK(r->creator == alice);
  CHECK_FALSE(r->is_public);
  rooms.set_public(room_a, true);
  CHECK(rooms.get_room(room_a)->is_public);
  CHECK_FALSE(rooms.get_room(room_b)->is_public);
  rooms.set_public(room_a, false);
  CHECK_FALSE(rooms.get_room(room_a)->is_public);
  CHECK_FALSE(rooms.get_room("!none:test"));

  // Local memberships only; the newest one per room.
  auto m = rooms.membership(alice, room_a);
  REQUIRE(m);
  CHECK(m->room_id == room_a);
  CHECK(m->membership == "join");
  CHECK(m->event_id == eid(2));
  CHECK(m->stream_ordering == 2);
  CHECK_FALSE(m->forgotten);
  auto mb = rooms.membership(bob, room_a);
  REQUIRE(mb);
  CHECK(mb->membership == "leave");
  CHECK(mb->event_id == eid(11));
  CHECK_FALSE(rooms.membership(dave, room_a)); // remote user
  CHECK_FALSE(rooms.membership(bob, room_b));

  auto all = rooms.memberships(alice);
  std::sort(all.begin(), all.end(),
            [](const membership_row& x, const membership_row& y) { return x.room_id < y.room_id; });
  REQUIRE(all.size() == 2);
  CHECK(all[0].room_id == room_a);
  CHECK(all[1].room_id == room_b);
  CHECK(all[1].event_id == eid(13));
  CHECK(rooms.memberships(dave).empty());

  // membership_at: the newest member event at or before a position.
  auto then = rooms.membership_at(bob, room_a, 10);
  REQUIRE(then);
  CHECK(then->membership == "join");
  CHECK(then->stream_ordering == 5);
  CHECK(rooms.membership_at(bob, room_a, 11)->membership == "leave");
  CHECK_FALSE(rooms.membership_at(bob, room_a, 4)); // before bob joined
  CHECK_FALSE(rooms.membership_at(bob, room_b, 20));

  // forget: only after leaving.
  CHECK_FALSE(rooms.forget(alice, room_a));
  CHECK_FALSE(rooms.forget(dave, room_a));
  CHECK(rooms.forget(bob, room_a));
  CHECK(rooms.membership(bob, room_a)->forgotten);
  // Joining again clears it.
  es.persist({ev(15, room_a, "m.room.member", bob, bob, {{"membership", "join"}}, 12, {eid(11)})},
             "w1", 15);
  auto again = rooms.membership(bob, room_a);
  REQUIRE(again);
  CHECK(again->membership == "join");
  CHECK_FALSE(again->forgotten);
  CHECK(again->stream_ordering == 15);

  // Current state, in stream order.
  auto cs = rooms.current_state(room_a);
  std::vector<std::string> ids;
  for (auto& e : cs) ids.push_back(e.at("event_id"));
  CHECK(ids == std::vector<std::string>{eid(1), eid(2), eid(3), eid(8), eid(9), eid(15)});
  auto nm = rooms.current_state_event(room_a, "m.room.name", "");
  REQUIRE(nm);
  CHECK((*nm)["content"]["name"] == "Second");
  CHECK_FALSE(rooms.current_state_event(room_a, "m.room.topic", ""));
  CHECK_FALSE(rooms.current_state_event(room_a, "m.room.member", "@nobody:test"));
  CHECK(rooms.current_state_event(room_a, "m.room.member", dave));

  auto members = [&](const std::string& membership) {
    std::set<std::string> out;
    for (auto& e : rooms.current_members(room_a, membership)) out.insert(e.at("state_key"));
    return out;
  };
  CHECK(members("") == std::set<std::string>{alice, bob, dave});
  CHECK(members("join") == std::set<std::string>{alice, bob, dave});
  es.persist({ev(16, room_a, "m.room.member", dave, dave, {{"membership", "leave"}}, 13, {eid(15)})},
             "w1", 16);
  CHECK(members("join") == std::set<std::string>{alice, bob});
  CHECK(members("leave") == std::set<std::string>{dave});
  CHECK(members("ban").empty());
  CHECK(rooms.current_members("!none:test").empty());
}

// ---- federation queues (device_federation_outbox, destinations, received_transactions) -----

TEST_CASE_TEMPLATE("federation_store: the to-device outbox, retry state, answered transactions", DB,
                   sqlite_db, pg_db) {
  AXON_STORES_OR_SKIP(DB);
  to_device_store td(p);
  federation_store fed(p);
  // Written with the request, at its position; one row per destination.
  td.add_messages("@a:hs", "DEV", "t1", {}, 5, "main", ts0,
                  {{"b.example", "m1", R"({"message_id":"m1"})"}, {"c.example:8448", "m2", R"({"message_id":"m2"})"}});
  td.add_messages("@a:hs", "DEV", "t2", {}, 6, "main", ts0, {{"b.example", "m3", R"({"message_id":"m3"})"}});
  auto dests = fed.destinations_with_outbox();
  std::sort(dests.begin(), dests.end());
  CHECK(dests == std::vector<std::string>{"b.example", "c.example:8448"});
  auto rows = fed.next_transaction("b.example", 10, 0).edus;
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].stream_id == 5);
  CHECK(rows[0].message_id == "m1");
  CHECK(rows[1].messages_json == R"({"message_id":"m3"})");
  CHECK(fed.next_transaction("b.example", 1, 0).edus.size() == 1);
  // The same transaction id again stores nothing (the writer finds it first;
  // here the insert itself is refused and nothing of it stays).
  CHECK_THROWS(td.add_messages("@a:hs", "DEV", "t1", {}, 7, "main", ts0, {{"b.example", "m9", "{}"}}));
  CHECK(fed.next_transaction("b.example", 10, 0).edus.size() == 2);
  fed.next_transaction("b.example", 0, 0, {5, 0});
  rows = fed.next_transaction("b.example", 10, 0).edus;
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].stream_id == 6);
  CHECK(fed.next_transaction("c.example:8448", 10, 0).edus.size() == 1);
  // The next transaction read with the deletes of the last one, in one round trip.
  td.add_messages("@a:hs", "DEV", "t3", {}, 8, "main", ts0, {{"b.example", "m4", R"({"message_id":"m4"})"}});
  auto next = fed.next_transaction("b.example", 1, 50);
  REQUIRE(next.edus.size() == 1);
  CHECK(next.edus[0].stream_id == 6);
  CHECK(next.pdus.empty());
  next = fed.next_transaction("b.example", 10, 50, {6, 0});
  REQUIRE(next.edus.size() == 1);
  CHECK(next.edus[0].message_id == "m4");
  CHECK_FALSE(fed.destination("b.example")); // no PDUs were acknowledged
  next = fed.next_transaction("b.example", 10, 50, {8, 12});
  CHECK(next.edus.empty());
  REQUIRE(fed.destination("b.example"));
  CHECK(fed.destination("b.example")->last_successful_stream_ordering == 12);
  CHECK(fed.next_transaction("c.example:8448", 10, 0).edus.size() == 1); // other destinations untouched

  CHECK(fed.retry_states().empty());
  fed.set_retry("b.example", ts0, 600000);
  fed.set_retry("b.example", ts0 + 1, 1200000);
  auto r = fed.retry_states();
  REQUIRE(r.count("b.example"));
  CHECK(r["b.example"].retry_last_ts == ts0 + 1);
  CHECK(r["b.example"].retry_interval == 1200000);
  fed.clear_retry("b.example");
  CHECK(fed.retry_states().empty());

  CHECK_FALSE(fed.answered("b.example", "txn1"));
  fed.remember_answer("b.example", "txn1", 200, R"({"pdus":{}})", ts0);
  fed.remember_answer("b.example", "txn1", 200, R"({"pdus":{"x":{}}})", ts0 + 5); // the first stays
  auto a = fed.answered("b.example", "txn1");
  REQUIRE(a);
  CHECK(a->code == 200);
  CHECK(a->response_json == R"({"pdus":{}})");
  CHECK_FALSE(fed.answered("c.example:8448", "txn1")); // per origin
  fed.forget_answers_before(ts0 + 1);
  CHECK_FALSE(fed.answered("b.example", "txn1"));
}
