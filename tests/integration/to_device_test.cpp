// tests/integration/to_device_test.cpp -- the to_device store and writer on a
// real database: SQLite (a temporary file) and PostgreSQL (a fresh database
// on AXON_TEST_PG). The writer is a detached actor: these run on a normal
// actor system and wait, with bounds, on scoped actors.
#include "actors/streams/to_device_writer.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/to_device_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/actor_env.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <variant>

using namespace axon;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- engines under test -----------------------------------------------------

using test::sqlite_db;
using test::pg_db;

// ---- fixture ------------------------------------------------------------------

constexpr auto reply_timeout = std::chrono::seconds(30);
const std::string alice = "@alice:test";
const std::string bob = "@bob:test";
const std::string carol = "@carol:test";

template <class DB>
struct env : test::actor_env<DB> {
  using base = test::actor_env<DB>;
  using base::pool;
  using base::self;
  using base::sys;
  std::unique_ptr<storage::to_device_store> store;
  to_device_writer_actor writer;

  env() {
    if (!this->ready()) return;
    store = std::make_unique<storage::to_device_store>(*pool);
  }

  ~env() {
    if (sys) stop();
  }

  /// A writer starting where the database stands, as at boot.
  void start() {
    writer = actors::spawn_to_device_writer(*sys, this->writer_deps(), store->max_stream_id());
  }

  void stop() { base::stop(writer); }

  /// The writer's reply: a position, or the error's code.
  template <class Request>
  std::variant<int64_t, errc> ask(const Request& req) {
    std::variant<int64_t, errc> out = errc::timeout;
    (*self)
      ->request(writer, reply_timeout, req)
      .receive([&](int64_t pos) { out = pos; },
               [&](caf::error& err) { out = from_caf_error(err).first; });
    return out;
  }

  void add_device(const std::string& user, const std::string& device) {
    storage::accounts_store(*pool).upsert_device(user, device, std::nullopt, 1);
  }
  std::vector<std::string> inbox(const std::string& user, const std::string& device) {
    std::vector<std::string> out;
    for (auto& r : store->messages_for_device(user, device, 0, INT64_MAX, 1000))
      out.push_back(json::parse(r.message_json)["content"].value("n", ""));
    return out;
  }
};

#define AXON_TO_DEVICE_ENV_OR_SKIP(E)                                                              \
  env<DB> E;                                                                                       \
  if (!E.ready()) {                                                                                \
    MESSAGE(std::string(E.db.skip_reason()));                                                      \
    return;                                                                                        \
  }

std::string message(const std::string& sender, const std::string& n) {
  return json{{"sender", sender}, {"type", "m.test"}, {"content", {{"n", n}}}}.dump();
}

msg::send_to_device request(std::string txn, std::vector<msg::to_device_delivery> d) {
  return {alice, "ADEV", std::move(txn), std::move(d)};
}

} // namespace

// ---- store ------------------------------------------------------------------------

TEST_CASE_TEMPLATE("to_device store: inbox ranges, limits, deletion, txn ids", DB, sqlite_db,
                   pg_db) {
  AXON_TO_DEVICE_ENV_OR_SKIP(e);
  auto& s = *e.store;
  CHECK(s.max_stream_id() == 0);
  s.add_messages(alice, "ADEV", "t1", {{bob, "B1", message(alice, "1")}, {bob, "B2", message(alice, "1")}},
                 1, "w1", 100);
  s.add_messages(alice, "ADEV", "t2", {{bob, "B1", message(alice, "2")}}, 2, "w1", 100);
  s.add_messages(alice, "ADEV", "t3", {{bob, "B1", message(alice, "3")}}, 3, "w1", 100);
  CHECK(s.max_stream_id() == 3);
  CHECK(s.find_txn(alice, "ADEV", "t2") == 2);
  CHECK_FALSE(s.find_txn(alice, "OTHER", "t2"));
  CHECK_FALSE(s.find_txn(alice, "ADEV", "t9"));
  // A repeated transaction id is refused by the table itself, and nothing of it stays.
  CHECK_THROWS_AS(s.add_messages(alice, "ADEV", "t1", {{bob, "B1", message(alice, "x")}}, 4, "w1", 100),
                  storage::db_error);
  CHECK(e.inbox(bob, "B1") == std::vector<std::string>{"1", "2", "3"});

  auto rows = s.messages_for_device(bob, "B1", 1, 3, 10);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].stream_id == 2);
  CHECK(rows[1].stream_id == 3);
  CHECK(s.messages_for_device(bob, "B1", 0, 3, 2).size() == 2);
  CHECK(s.messages_for_device(bob, "B1", 0, 2, 10).size() == 2);
  CHECK(s.messages_for_device(bob, "B2", 1, 3, 10).empty());

  CHECK(s.has_messages_up_to(bob, "B1", 1));
  CHECK(s.delete_messages_up_to(bob, "B1", 2) == 2);
  CHECK_FALSE(s.has_messages_up_to(bob, "B1", 2));
  CHECK(e.inbox(bob, "B1") == std::vector<std::string>{"3"});
  CHECK(e.inbox(bob, "B2") == std::vector<std::string>{"1"});
  // Positions never go back, even with every message gone.
  s.delete_messages_up_to(bob, "B1", 3);
  s.delete_messages_up_to(bob, "B2", 3);
  CHECK(s.max_stream_id() == 3);
}

TEST_CASE_TEMPLATE("to_device store: devices, and logging out drops the inbox", DB, sqlite_db,
                   pg_db) {
  AXON_TO_DEVICE_ENV_OR_SKIP(e);
  auto& s = *e.store;
  storage::accounts_store acc(*e.pool);
  e.add_device(bob, "B2");
  e.add_device(bob, "B1");
  e.add_device(carol, "C1");
  CHECK(s.devices_of(bob) == std::vector<std::string>{"B1", "B2"});
  CHECK(s.devices_of("@nobody:test").empty());
  acc.add_access_token("tokB1", bob, "B1", 1);
  s.add_messages(alice, "ADEV", "t1",
                 {{bob, "B1", message(alice, "1")}, {bob, "B2", message(alice, "1")},
                  {carol, "C1", message(alice, "1")}},
                 1, "w1", 100);
  acc.delete_token_and_device("tokB1");
  CHECK(e.inbox(bob, "B1").empty());
  CHECK(e.inbox(bob, "B2").size() == 1);
  acc.delete_all_tokens_and_devices(bob);
  CHECK(e.inbox(bob, "B2").empty());
  CHECK(e.inbox(carol, "C1").size() == 1);
}

// ---- writer ------------------------------------------------------------------------

TEST_CASE_TEMPLATE("to_device writer: stores, publishes per recipient, txn retries are no-ops",
                   DB, sqlite_db, pg_db) {
  AXON_TO_DEVICE_ENV_OR_SKIP(e);
  e.start();
  auto r = e.ask(request("t1", {{bob, "B1", message(alice, "1")},
                                {bob, "B2", message(alice, "1")},
                                {carol, "C1", message(alice, "1")}}));
  REQUIRE(std::holds_alternative<int64_t>(r));
  CHECK(std::get<int64_t>(r) == 1);
  auto adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->stream == static_cast<uint8_t>(stream_id::to_device));
  CHECK(adv->pos == 1);
  CHECK(adv->instance == "w1");
  REQUIRE(adv->rows.size() == 2); // one per recipient user: only they are woken
  CHECK(adv->rows[0].user_ids == std::vector<std::string>{bob});
  CHECK(adv->rows[1].user_ids == std::vector<std::string>{carol});
  for (auto& row : adv->rows) {
    CHECK(row.pos == 1);
    CHECK(row.room_id.empty());
  }

  // The same transaction again: the first position, nothing stored or published.
  r = e.ask(request("t1", {{bob, "B1", message(alice, "again")}}));
  CHECK(std::get<int64_t>(r) == 1);
  CHECK(e.nothing_published());
  CHECK(e.inbox(bob, "B1") == std::vector<std::string>{"1"});
  // Same txn id from another device of the sender is a new transaction.
  auto other = request("t1", {{bob, "B1", message(alice, "2")}});
  other.sender_device = "ADEV2";
  CHECK(std::get<int64_t>(e.ask(other)) == 2);
  REQUIRE(e.next_published());

  // Nothing to deliver (unknown devices only): the txn is kept, no position used.
  CHECK(std::get<int64_t>(e.ask(request("t-empty", {}))) == 2);
  CHECK(e.nothing_published());
  CHECK(e.store->find_txn(alice, "ADEV", "t-empty") == 2);

  // Acknowledgement deletes up to the position, for that device only.
  CHECK(std::get<int64_t>(e.ask(msg::ack_to_device{bob, "B1", 1})) == 2);
  CHECK(e.inbox(bob, "B1") == std::vector<std::string>{"2"});
  CHECK(e.inbox(bob, "B2") == std::vector<std::string>{"1"});
  CHECK(e.nothing_published());

  // A restarted writer goes on after the persisted position.
  e.stop();
  e.start();
  CHECK(std::get<int64_t>(e.ask(request("t3", {{bob, "B2", message(alice, "3")}}))) == 3);
  REQUIRE(e.next_published());
  CHECK(std::get<int64_t>(e.ask(request("t1", {}))) == 1);
}

TEST_CASE_TEMPLATE("to_device writer: positions survive acknowledging everything", DB, sqlite_db,
                   pg_db) {
  AXON_TO_DEVICE_ENV_OR_SKIP(e);
  e.start();
  CHECK(std::get<int64_t>(e.ask(request("a", {{bob, "B1", message(alice, "1")}}))) == 1);
  CHECK(std::get<int64_t>(e.ask(request("b", {{bob, "B1", message(alice, "2")}}))) == 2);
  CHECK(std::get<int64_t>(e.ask(msg::ack_to_device{bob, "B1", 2})) == 2);
  CHECK(e.inbox(bob, "B1").empty());
  e.stop();
  e.start();
  CHECK(std::get<int64_t>(e.ask(request("c", {{bob, "B1", message(alice, "3")}}))) == 3);
}
