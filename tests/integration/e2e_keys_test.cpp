// tests/integration/e2e_keys_test.cpp -- the E2EE key store and the
// device_lists writer on SQLite (a temporary file) and PostgreSQL (a fresh
// database on AXON_TEST_PG): one-time keys handed out exactly once, even to
// concurrent claims; fallback keys; the stream rows a change publishes.
#include "actors/streams/device_lists_writer.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/device_lists_env.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

using namespace axon;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using axon::test::sqlite_db;
using axon::test::pg_db;

const std::string alice = "@alice:test";
const std::string bob = "@bob:test";

json otks(int from, int n) {
  json out = json::object();
  for (int i = from; i < from + n; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "AAA%04d", i);
    out[std::string("signed_curve25519:") + id] = {{"key", "k" + std::to_string(i)}};
  }
  return out;
}

msg::upload_keys upload(const std::string& device, const json& one_time, const json& fallback = {}) {
  return {alice, device, "", one_time.is_null() ? "" : one_time.dump(),
          fallback.is_null() ? "" : fallback.dump()};
}

std::string claim_of(const std::string& device) {
  return json{{alice, {{device, "signed_curve25519"}}}}.dump();
}

int64_t otk_count(storage::pool& p) {
  return p.acquire()->exec("SELECT COUNT(*) FROM e2e_one_time_keys_json").rows.at(0).i64(0);
}

} // namespace

TEST_CASE_TEMPLATE("e2e keys: one-time keys are claimed once, then the fallback key", DB, sqlite_db,
                   pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  storage::e2e_keys_store store(*e.pool);
  auto up = e.template ask<int64_t>(*e.self, upload("DEV", otks(0, 2),
                                                    json{{"signed_curve25519:FB", {{"key", "fb"}}}}));
  REQUIRE(std::holds_alternative<int64_t>(up));
  CHECK(std::get<int64_t>(up) == 0); // no device keys: the stream did not move
  CHECK(store.one_time_key_counts(alice, "DEV") == std::map<std::string, int64_t>{{"signed_curve25519", 2}});
  CHECK(store.unused_fallback_key_types(alice, "DEV") == std::vector<std::string>{"signed_curve25519"});

  std::set<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto r = e.template ask<msg::claim_keys_reply>(*e.self, msg::claim_keys{claim_of("DEV")});
    REQUIRE(std::holds_alternative<msg::claim_keys_reply>(r));
    auto keys = json::parse(std::get<msg::claim_keys_reply>(r).one_time_keys)[alice]["DEV"];
    REQUIRE(keys.size() == 1);
    got.insert(keys.begin().key());
  }
  CHECK(got == std::set<std::string>{"signed_curve25519:AAA0000", "signed_curve25519:AAA0001"});
  CHECK(store.one_time_key_counts(alice, "DEV").empty());
  // None left: the fallback key, which is then used (but handed out again).
  for (int i = 0; i < 2; ++i) {
    auto r = e.template ask<msg::claim_keys_reply>(*e.self, msg::claim_keys{claim_of("DEV")});
    auto keys = json::parse(std::get<msg::claim_keys_reply>(r).one_time_keys)[alice]["DEV"];
    CHECK(keys == json{{"signed_curve25519:FB", {{"key", "fb"}}}});
  }
  CHECK(store.unused_fallback_key_types(alice, "DEV").empty());
  // The same fallback key again stays used; a new one is unused.
  e.template ask<int64_t>(*e.self, upload("DEV", {}, json{{"signed_curve25519:FB", {{"key", "fb"}}}}));
  CHECK(store.unused_fallback_key_types(alice, "DEV").empty());
  e.template ask<int64_t>(*e.self, upload("DEV", {}, json{{"signed_curve25519:FB2", {{"key", "x"}}}}));
  CHECK(store.unused_fallback_key_types(alice, "DEV") == std::vector<std::string>{"signed_curve25519"});
  // A device without keys is absent from the answer.
  auto r = e.template ask<msg::claim_keys_reply>(*e.self, msg::claim_keys{claim_of("NONE")});
  CHECK(json::parse(std::get<msg::claim_keys_reply>(r).one_time_keys) == json::object());
}

TEST_CASE_TEMPLATE("e2e keys: a reused one-time key id with other content stores nothing", DB,
                   sqlite_db, pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  storage::e2e_keys_store store(*e.pool);
  e.template ask<int64_t>(*e.self, upload("DEV", otks(0, 1)));
  // Same id and content: accepted, still one key.
  CHECK(std::holds_alternative<int64_t>(e.template ask<int64_t>(*e.self, upload("DEV", otks(0, 1)))));
  auto bad = otks(1, 1);
  bad["signed_curve25519:AAA0000"] = {{"key", "other"}};
  auto r = e.template ask<int64_t>(*e.self, upload("DEV", bad));
  REQUIRE(std::holds_alternative<errc>(r));
  CHECK(std::get<errc>(r) == errc::invalid_param);
  CHECK(store.one_time_key_counts(alice, "DEV") == std::map<std::string, int64_t>{{"signed_curve25519", 1}});
}

TEST_CASE_TEMPLATE("e2e keys: concurrent claims through the writer never share a key", DB, sqlite_db,
                   pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  constexpr int keys = 40, threads = 8, per_thread = 6; // 48 claims for 40 keys
  e.template ask<int64_t>(*e.self, upload("DEV", otks(0, keys)));
  std::mutex mu;
  std::vector<std::string> got;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      caf::scoped_actor self{*e.sys};
      for (int i = 0; i < per_thread; ++i) {
        auto r = e.template ask<msg::claim_keys_reply>(self, msg::claim_keys{claim_of("DEV")});
        if (!std::holds_alternative<msg::claim_keys_reply>(r)) continue;
        auto j = json::parse(std::get<msg::claim_keys_reply>(r).one_time_keys);
        std::lock_guard<std::mutex> g(mu);
        if (j.contains(alice)) got.push_back(j[alice]["DEV"].begin().key());
      }
    });
  for (auto& t : ts) t.join();
  CHECK(got.size() == keys); // 8 claims found nothing (no fallback key)
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == keys);
}

TEST_CASE_TEMPLATE("e2e keys: concurrent claims on the store itself never share a key", DB,
                   sqlite_db, pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  constexpr int keys = 30, threads = 4, per_thread = 10;
  e.template ask<int64_t>(*e.self, upload("DEV", otks(0, keys)));
  std::mutex mu;
  std::vector<std::string> got;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      storage::e2e_keys_store store(*e.pool);
      for (int i = 0; i < per_thread; ++i) {
        std::vector<storage::claimed_key> r;
        try {
          r = store.claim({{alice, "DEV", "signed_curve25519"}});
        } catch (const storage::db_error&) {
          continue; // SQLite busy: a failed claim hands out nothing
        }
        std::lock_guard<std::mutex> g(mu);
        for (auto& k : r) got.push_back(k.key_id);
      }
    });
  for (auto& t : ts) t.join();
  CHECK(std::set<std::string>(got.begin(), got.end()).size() == got.size());
  CHECK(got.size() + static_cast<size_t>(otk_count(*e.pool)) == keys);
}

TEST_CASE_TEMPLATE("e2e keys: device key changes advance the stream for the user's rooms", DB,
                   sqlite_db, pg_db) {
  AXON_DEVICE_LISTS_ENV_OR_SKIP(e);
  storage::e2e_keys_store store(*e.pool);
  e.pool->acquire()->exec("INSERT INTO local_current_membership (user_id, room_id, event_id, "
                          "membership, stream_ordering) VALUES ($1, '!r:test', '$j', 'join', 1)",
                          {alice});
  json dk = {{"user_id", alice}, {"device_id", "DEV"}, {"algorithms", {"m.olm.v1"}},
             {"keys", {{"ed25519:DEV", "x"}}}};
  msg::upload_keys up{alice, "DEV", dk.dump(), otks(0, 1).dump(), ""};
  auto r = e.template ask<int64_t>(*e.self, up);
  REQUIRE(std::holds_alternative<int64_t>(r));
  CHECK(std::get<int64_t>(r) == 1);
  auto adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->stream == static_cast<uint8_t>(stream_id::device_lists));
  CHECK(adv->pos == 1);
  REQUIRE(adv->rows.size() == 2);
  CHECK(adv->rows[0].user_ids == std::vector<std::string>{alice});
  CHECK(adv->rows[1].room_id == "!r:test");
  CHECK(store.changed_users(0, 1) == std::vector<std::string>{alice});
  CHECK(store.device_keys(alice, {}).count("DEV") == 1);
  // The same keys again: no change, no new position.
  CHECK(std::get<int64_t>(e.template ask<int64_t>(*e.self, up)) == 1);
  // Deleting the device deletes its keys and advances the stream.
  auto d = e.template ask<int64_t>(*e.self, msg::device_list_changed{alice, {"DEV"}, true});
  CHECK(std::get<int64_t>(d) == 2);
  CHECK(store.device_keys(alice, {}).empty());
  CHECK(otk_count(*e.pool) == 0);
  CHECK(store.changed_users(1, 2) == std::vector<std::string>{alice});
  CHECK(store.max_stream_id() == 2);
}
