// tests/integration/room_keys_test.cpp -- the key backup store on SQLite and
// PostgreSQL: versions (numbering, current, update, delete), the replacement
// rule, etags and counts, and concurrent uploads of one user.
#include "storage/stores/room_keys_store.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

using namespace axon::storage;
using axon::matrix::room_key;
using nlohmann::json;

namespace {

using axon::test::sqlite_db;
using axon::test::pg_db;

const std::string alice = "@alice:test";
const std::string bob = "@bob:test";
const std::string algo = "m.megolm_backup.v1.curve25519-aes-sha2";

template <class DB>
struct env {
  DB db;
  std::unique_ptr<pool> p;
  bool ready() const { return db.ready(); }
  env() {
    if (!db.ready()) return;
    p = open_pool(db.options(8));
    run_migrations(*p);
  }
};

#define AXON_ROOM_KEYS_ENV_OR_SKIP(e)                                                              \
  env<DB> e;                                                                                       \
  if (!e.ready()) {                                                                                \
    MESSAGE(std::string(e.db.skip_reason()));                                                      \
    return;                                                                                        \
  }

room_key key(int64_t index, int64_t forwarded, bool verified, const std::string& tag) {
  return {index, forwarded, verified, json{{"tag", tag}}.dump()};
}

room_key_map one(const std::string& room, const std::string& session, room_key k) {
  room_key_map m;
  m[room][session] = std::move(k);
  return m;
}

std::string tag_of(room_keys_store& s, const std::string& version, const std::string& room,
                   const std::string& session) {
  auto got = s.get_keys(alice, version, room, session);
  REQUIRE(got.has_value());
  return (*got)["rooms"][room]["sessions"][session]["session_data"]["tag"];
}

} // namespace

TEST_CASE_TEMPLATE("room keys store: versions are numbered, current, updated, deleted", DB,
                   sqlite_db, pg_db) {
  AXON_ROOM_KEYS_ENV_OR_SKIP(e);
  room_keys_store s(*e.p);
  CHECK_FALSE(s.get_version(alice, std::nullopt).has_value());
  CHECK(s.create_version(alice, algo, R"({"public_key":"a"})") == "1");
  CHECK(s.create_version(alice, algo, R"({"public_key":"b"})") == "2");
  CHECK(s.create_version(bob, algo, "{}") == "1");

  auto cur = s.get_version(alice, std::nullopt);
  REQUIRE(cur.has_value());
  CHECK(cur->version == "2");
  CHECK(cur->auth_data == json{{"public_key", "b"}});
  CHECK(cur->count == 0);
  CHECK(cur->etag == "0");
  CHECK(s.get_version(alice, std::string("1"))->auth_data == json{{"public_key", "a"}});
  CHECK_FALSE(s.get_version(alice, std::string("3")).has_value());
  CHECK_FALSE(s.get_version(alice, std::string("x1")).has_value());

  using upd = room_keys_store::update_result;
  CHECK(s.update_version(alice, "1", algo, R"({"public_key":"c"})") == upd::ok);
  CHECK(s.get_version(alice, std::string("1"))->auth_data == json{{"public_key", "c"}});
  CHECK(s.update_version(alice, "1", "other", "{}") == upd::algorithm_mismatch);
  CHECK(s.update_version(alice, "9", algo, "{}") == upd::not_found);
  CHECK(s.get_version(alice, std::string("1"))->auth_data == json{{"public_key", "c"}});

  using del = room_keys_store::delete_result;
  REQUIRE(s.put_keys(alice, "2", one("!r:test", "s1", key(0, 0, false, "x"))).result ==
          room_keys_write::status::ok);
  CHECK(s.delete_version(alice, "2") == del::deleted);
  CHECK(s.delete_version(alice, "2") == del::already_deleted);
  CHECK(s.delete_version(alice, "7") == del::not_found);
  CHECK_FALSE(s.get_version(alice, std::string("2")).has_value());
  CHECK_FALSE(s.get_keys(alice, "2", std::nullopt, std::nullopt).has_value());
  CHECK(s.update_version(alice, "2", algo, "{}") == upd::not_found);
  CHECK(s.get_version(alice, std::nullopt)->version == "1");
  CHECK(e.p->acquire()->exec("SELECT COUNT(*) FROM e2e_room_keys").rows[0].i64(0) == 0);
  // A deleted number is never handed out again.
  CHECK(s.create_version(alice, algo, "{}") == "3");
}

TEST_CASE_TEMPLATE("room keys store: replacement rule, etag and count", DB, sqlite_db, pg_db) {
  AXON_ROOM_KEYS_ENV_OR_SKIP(e);
  room_keys_store s(*e.p);
  REQUIRE(s.create_version(alice, algo, "{}") == "1");
  const std::string room = "!r:test";

  auto w = s.put_keys(alice, "1", one(room, "s1", key(5, 2, false, "first")));
  REQUIRE(w.result == room_keys_write::status::ok);
  CHECK(w.count == 1);
  CHECK(w.etag == "1");

  // Worse or equal keys are dropped and the etag stays.
  for (auto k : {key(6, 0, false, "later"), key(5, 3, false, "more-forwarded"),
                 key(5, 2, false, "same")}) {
    w = s.put_keys(alice, "1", one(room, "s1", k));
    CHECK(w.etag == "1");
    CHECK(tag_of(s, "1", room, "s1") == "first");
  }
  // Lower forwarded_count, then lower index, then verified win.
  w = s.put_keys(alice, "1", one(room, "s1", key(5, 1, false, "less-forwarded")));
  CHECK(w.etag == "2");
  CHECK(tag_of(s, "1", room, "s1") == "less-forwarded");
  w = s.put_keys(alice, "1", one(room, "s1", key(4, 9, false, "lower-index")));
  CHECK(w.etag == "3");
  CHECK(tag_of(s, "1", room, "s1") == "lower-index");
  w = s.put_keys(alice, "1", one(room, "s1", key(9, 9, true, "verified")));
  CHECK(w.etag == "4");
  CHECK(tag_of(s, "1", room, "s1") == "verified");
  // An unverified key never replaces a verified one.
  w = s.put_keys(alice, "1", one(room, "s1", key(0, 0, false, "unverified")));
  CHECK(w.etag == "4");
  CHECK(tag_of(s, "1", room, "s1") == "verified");
  CHECK(w.count == 1);

  room_key_map many;
  many[room]["s2"] = key(0, 0, false, "s2");
  many["!other:test"]["s3"] = key(0, 0, false, "s3");
  w = s.put_keys(alice, "1", many);
  CHECK(w.count == 3);
  CHECK(w.etag == "5");
  auto v = s.get_version(alice, std::string("1"));
  CHECK(v->count == 3);
  CHECK(v->etag == "5");
  auto all = s.get_keys(alice, "1", std::nullopt, std::nullopt);
  CHECK((*all)["rooms"].size() == 2);
  CHECK((*all)["rooms"][room]["sessions"].size() == 2);
  CHECK((*all)["rooms"][room]["sessions"]["s1"] ==
        json{{"first_message_index", 9},
             {"forwarded_count", 9},
             {"is_verified", true},
             {"session_data", {{"tag", "verified"}}}});
  CHECK((*s.get_keys(alice, "1", std::string("!none:test"), std::nullopt))["rooms"].empty());

  // Deleting: one session, then a room, then all; nothing deleted keeps the etag.
  w = s.delete_keys(alice, "1", room, std::string("s2"));
  CHECK(w.count == 2);
  CHECK(w.etag == "6");
  w = s.delete_keys(alice, "1", room, std::string("s2"));
  CHECK(w.etag == "6");
  w = s.delete_keys(alice, "1", std::string("!other:test"), std::nullopt);
  CHECK(w.count == 1);
  w = s.delete_keys(alice, "1", std::nullopt, std::nullopt);
  CHECK(w.count == 0);
  CHECK(w.etag == "8");
  CHECK(s.delete_keys(alice, "4", std::nullopt, std::nullopt).result ==
        room_keys_write::status::not_found);
}

TEST_CASE_TEMPLATE("room keys store: only the current version takes keys", DB, sqlite_db, pg_db) {
  AXON_ROOM_KEYS_ENV_OR_SKIP(e);
  room_keys_store s(*e.p);
  CHECK(s.put_keys(alice, "1", one("!r:test", "s", key(0, 0, false, "x"))).result ==
        room_keys_write::status::not_found);
  REQUIRE(s.create_version(alice, algo, "{}") == "1");
  REQUIRE(s.create_version(alice, algo, "{}") == "2");
  auto w = s.put_keys(alice, "1", one("!r:test", "s", key(0, 0, false, "x")));
  CHECK(w.result == room_keys_write::status::wrong_version);
  CHECK(w.current_version == "2");
  CHECK(s.put_keys(alice, "5", one("!r:test", "s", key(0, 0, false, "x"))).result ==
        room_keys_write::status::not_found);
  CHECK(s.get_version(alice, std::string("1"))->count == 0);
  // Other users' backups are separate.
  CHECK(s.put_keys(bob, "2", one("!r:test", "s", key(0, 0, false, "x"))).result ==
        room_keys_write::status::not_found);
  // Deleting the current version makes the previous one current again.
  REQUIRE(s.delete_version(alice, "2") == room_keys_store::delete_result::deleted);
  CHECK(s.put_keys(alice, "1", one("!r:test", "s", key(0, 0, false, "x"))).result ==
        room_keys_write::status::ok);
  // Reading and deleting work on old versions too.
  REQUIRE(s.create_version(alice, algo, "{}") == "3");
  CHECK(s.get_keys(alice, "1", std::nullopt, std::nullopt)->at("rooms").size() == 1);
  CHECK(s.delete_keys(alice, "1", std::nullopt, std::nullopt).count == 0);
}

TEST_CASE_TEMPLATE("room keys store: concurrent uploads and version creation stay consistent",
                   DB, sqlite_db, pg_db) {
  AXON_ROOM_KEYS_ENV_OR_SKIP(e);
  room_keys_store s(*e.p);
  REQUIRE(s.create_version(alice, algo, "{}") == "1");
  constexpr int threads = 6, rounds = 10;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        try {
          room_key_map m;
          // Every thread uploads the same sessions (with different indexes)
          // and one of its own.
          m["!r:test"]["shared" + std::to_string(i)] = key(100 - t, 0, false, std::to_string(t));
          m["!r:test"]["own" + std::to_string(t) + "_" + std::to_string(i)] = key(0, 0, false, "o");
          if (s.put_keys(alice, "1", m).result != room_keys_write::status::ok) ++failures;
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  for (auto& t : ts) t.join();
  CHECK(failures == 0);
  auto v = s.get_version(alice, std::string("1"));
  CHECK(v->count == rounds + threads * rounds);
  // Each shared session is kept with the lowest index uploaded.
  for (int i = 0; i < rounds; ++i)
    CHECK(tag_of(s, "1", "!r:test", "shared" + std::to_string(i)) == std::to_string(threads - 1));

  ts.clear();
  std::vector<std::string> got(threads);
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      try {
        got[t] = s.create_version(bob, algo, "{}");
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(failures == 0);
  std::sort(got.begin(), got.end());
  CHECK(std::unique(got.begin(), got.end()) == got.end());
  CHECK(s.get_version(bob, std::nullopt)->version == std::to_string(threads));
}
