// tests/integration/cross_signing_test.cpp -- cross-signing keys and
// signatures through the device_lists writer and cross_signing_store, on
// SQLite (a temporary file) and PostgreSQL (a fresh database on
// AXON_TEST_PG): stored, replaced, and each change advancing device_lists
// for the user concerned.
#include "actors/streams/device_lists_writer.hpp"
#include "storage/stores/cross_signing_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/device_lists_env.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

using namespace axon;
using nlohmann::json;

namespace {

using axon::test::sqlite_db;
using axon::test::pg_db;

const std::string alice = "@alice:test";
const std::string bob = "@bob:test";

json cs_key(const std::string& user, const std::string& usage, const std::string& pub) {
  return {{"user_id", user}, {"usage", {usage}}, {"keys", {{"ed25519:" + pub, pub}}}};
}

} // namespace

TEST_CASE_TEMPLATE("cross-signing: keys are stored, replaced and advance device_lists", DB,
                   sqlite_db, pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  storage::cross_signing_store store(*e.pool);
  storage::e2e_keys_store keys(*e.pool);
  e.pool->acquire()->exec("INSERT INTO local_current_membership (user_id, room_id, event_id, "
                          "membership, stream_ordering) VALUES ($1, '!r:test', '$j', 'join', 1)",
                          {alice});
  CHECK(store.keys(alice).empty());
  CHECK_FALSE(store.key(alice, "master"));

  auto master = cs_key(alice, "master", "MASTER1");
  auto ssk = cs_key(alice, "self_signing", "SSK1");
  auto r = e.ask(msg::upload_cross_signing_keys{alice, master.dump(), ssk.dump(), ""});
  REQUIRE(std::holds_alternative<int64_t>(r));
  CHECK(std::get<int64_t>(r) == 1);
  auto adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->stream == static_cast<uint8_t>(stream_id::device_lists));
  CHECK(adv->pos == 1);
  REQUIRE(adv->rows.size() == 2); // the user, and the user's room
  CHECK(adv->rows[0].user_ids == std::vector<std::string>{alice});
  CHECK(adv->rows[1].room_id == "!r:test");
  CHECK(keys.changed_users(0, 1) == std::vector<std::string>{alice});
  CHECK(json::parse(*store.key(alice, "master")) == master);
  CHECK(store.keys(alice) == std::map<std::string, std::string>{{"master", master.dump()},
                                                                {"self_signing", ssk.dump()}});

  // Replacing one key keeps the others.
  auto usk = cs_key(alice, "user_signing", "USK1");
  auto master2 = cs_key(alice, "master", "MASTER2");
  CHECK(std::get<int64_t>(e.ask(msg::upload_cross_signing_keys{alice, master2.dump(), "",
                                                                usk.dump()})) == 2);
  auto all = store.keys(alice);
  CHECK(all.size() == 3);
  CHECK(json::parse(all["master"]) == master2);
  CHECK(json::parse(all["self_signing"]) == ssk);
  CHECK(json::parse(all["user_signing"]) == usk);
  CHECK(store.keys(bob).empty());
  // Nothing to store: the stream stays put.
  CHECK(std::get<int64_t>(e.ask(msg::upload_cross_signing_keys{alice, "", "", ""})) == 2);
  CHECK(keys.max_stream_id() == 2);
}

TEST_CASE_TEMPLATE("cross-signing: signatures are stored per target and advance its user", DB,
                   sqlite_db, pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  storage::cross_signing_store store(*e.pool);
  storage::e2e_keys_store keys(*e.pool);
  json sigs = json::array({
    {{"key_id", "ed25519:SSK"}, {"target_user_id", alice}, {"target_device_id", "DEV"},
     {"signature", "sig1"}},
    {{"key_id", "ed25519:USK"}, {"target_user_id", bob}, {"target_device_id", "BOBMASTER"},
     {"signature", "sig2"}},
  });
  auto r = e.ask(msg::upload_signatures{alice, sigs.dump()});
  REQUIRE(std::holds_alternative<int64_t>(r));
  CHECK(std::get<int64_t>(r) == 2); // one position per target user
  auto on_alice = store.signatures_on(alice);
  REQUIRE(on_alice.size() == 1);
  CHECK(on_alice[0].user_id == alice);
  CHECK(on_alice[0].key_id == "ed25519:SSK");
  CHECK(on_alice[0].target_device_id == "DEV");
  CHECK(on_alice[0].signature == "sig1");
  auto on_bob = store.signatures_on(bob);
  REQUIRE(on_bob.size() == 1);
  CHECK(on_bob[0].user_id == alice);
  CHECK(on_bob[0].target_device_id == "BOBMASTER");
  auto changed = keys.changed_users(0, 2);
  std::sort(changed.begin(), changed.end());
  CHECK(changed == std::vector<std::string>{alice, bob});

  // The same signer key on the same target again replaces the signature.
  json again = json::array({{{"key_id", "ed25519:SSK"}, {"target_user_id", alice},
                             {"target_device_id", "DEV"}, {"signature", "sig3"}}});
  CHECK(std::get<int64_t>(e.ask(msg::upload_signatures{alice, again.dump()})) == 3);
  on_alice = store.signatures_on(alice);
  REQUIRE(on_alice.size() == 1);
  CHECK(on_alice[0].signature == "sig3");
  // An empty list changes nothing.
  CHECK(std::get<int64_t>(e.ask(msg::upload_signatures{alice, "[]"})) == 3);
}
