// tests/integration/presence_test.cpp -- presence_store and the presence
// writer's state machine on a real database: SQLite (a temporary file) and
// PostgreSQL (a fresh database on AXON_TEST_PG). The writer runs scheduled
// (not detached) on CAF's deterministic test_coordinator with a virtual
// clock: the test advances the writer's wall clock and CAF's timer clock
// together, so Synapse's real timeouts (minutes) run in no time.
#include "actors/streams/presence_writer.hpp"
#include "storage/stores/presence_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <variant>

using namespace axon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// ---- engines under test -----------------------------------------------------

using test::sqlite_db;
using test::pg_db;

const std::string alice = "@alice:test";
const std::string bob = "@bob:test";
const std::string room_r = "!r:test";
constexpr int64_t t0 = 1'700'000'000'000;

// ---- fixture ------------------------------------------------------------------

/// Declared in destruction order: the actor system before the pool, the
/// pool before the database.
template <class DB>
struct env {
  DB db;
  std::unique_ptr<storage::pool> pool;
  std::unique_ptr<storage::presence_store> store;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::unique_ptr<caf::scoped_actor> self, bus;
  std::shared_ptr<int64_t> clock = std::make_shared<int64_t>(t0);
  presence_writer_actor writer;

  bool open() {
    if (!db.ready()) {
      MESSAGE(std::string(db.skip_reason()));
      return false;
    }
    pool = storage::open_pool(db.options());
    storage::run_migrations(*pool);
    store = std::make_unique<storage::presence_store>(*pool);
    register_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    self = std::make_unique<caf::scoped_actor>(*sys, true);
    bus = std::make_unique<caf::scoped_actor>(*sys, true);
    return true;
  }

  void spawn(actors::presence_timeouts t = {}) {
    actors::presence_writer_deps deps;
    deps.pool = pool.get();
    deps.instance_name = "main";
    deps.publisher = caf::actor{*bus};
    deps.timeouts = t;
    deps.now = [c = clock] { return *c; };
    deps.detached = false;
    writer = actors::spawn_presence_writer(*sys, deps, store->max_stream_id());
    sched->run();
  }

  ~env() {
    if (!sys || !writer) return;
    caf::anon_send_exit(caf::actor_cast<caf::actor>(writer), caf::exit_reason::user_shutdown);
    sched->run();
    sched->trigger_timeouts();
    sched->run();
  }

  /// Moves both clocks on by `d` and runs whatever became due.
  void advance(std::chrono::milliseconds d) {
    *clock += d.count();
    sched->advance_time(d);
    sched->run();
  }

  /// Sends a request, runs the writer, returns its position or error.
  template <class Req>
  std::variant<int64_t, errc> ask(Req req) {
    (*self)->send(writer, std::move(req));
    sched->run();
    std::variant<int64_t, errc> out = errc::unknown;
    (*self)->receive([&](int64_t p) { out = p; },
                     [&](caf::error& e) { out = from_caf_error(e).first; });
    return out;
  }

  /// Every stream_advanced published since the last call.
  std::vector<msg::stream_advanced> published() {
    std::vector<msg::stream_advanced> out;
    while (!(*bus)->mailbox().empty())
      (*bus)->receive([&](msg::stream_advanced& a) { out.push_back(std::move(a)); });
    return out;
  }

  storage::presence_row row(const std::string& user) {
    auto r = store->get(user);
    REQUIRE(r.has_value());
    return *r;
  }
};

#define AXON_ENV_OR_SKIP(DB)                                                                       \
  env<DB> e;                                                                                       \
  if (!e.open()) return

} // namespace

// ---- store ---------------------------------------------------------------------

TEST_CASE_TEMPLATE("presence_store: put, get, changed, not_offline", DB, sqlite_db, pg_db) {
  AXON_ENV_OR_SKIP(DB);
  auto& s = *e.store;
  CHECK(s.max_stream_id() == 0);
  CHECK_FALSE(s.get(alice));
  s.put({alice, "online", "Grüße 🎉", t0, t0 + 1, true, 1});
  s.put({bob, "offline", "", 0, 0, false, 2});
  auto a = s.get(alice);
  REQUIRE(a);
  CHECK(a->state == "online");
  CHECK(a->status_msg == "Grüße 🎉");
  CHECK(a->last_active_ts == t0);
  CHECK(a->last_user_sync_ts == t0 + 1);
  CHECK(a->currently_active);
  CHECK(a->stream_id == 1);
  CHECK(s.max_stream_id() == 2);
  // Replacing keeps one row per user, at its new position.
  s.put({alice, "unavailable", "", t0, t0 + 1, false, 3});
  auto rows = s.changed(0, 3);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].user_id == bob);
  CHECK(rows[1].user_id == alice);
  CHECK(rows[1].state == "unavailable");
  CHECK_FALSE(rows[1].currently_active);
  CHECK(s.changed(2, 3).size() == 1);
  CHECK(s.changed(3, 3).empty());
  auto live = s.not_offline();
  REQUIRE(live.size() == 1);
  CHECK(live[0].user_id == alice);
}

// ---- writer ----------------------------------------------------------------------

TEST_CASE_TEMPLATE("presence writer: another server's user keeps the state its server gave for 30 minutes", DB,
                   sqlite_db, pg_db) {
  AXON_ENV_OR_SKIP(DB);
  const std::string remote = "@carol:other.example.org";
  // Carol (another server) is joined to room R: her rows name the room.
  e.pool->acquire()->exec("INSERT INTO current_state_events (room_id, type, state_key, event_id, membership, "
                          "stream_ordering) VALUES ($1, 'm.room.member', $2, '$c', 'join', 1)",
                          {room_r, remote});
  e.spawn();
  msg::set_presence sp{remote, "online", "away from keyboard", true, 5000, false};
  CHECK(std::get<int64_t>(e.ask(sp)) == 1);
  auto r = e.row(remote);
  CHECK(r.state == "online");
  CHECK(r.last_active_ts == t0 - 5000);
  CHECK_FALSE(r.currently_active); // as her server said
  auto adv = e.published();
  REQUIRE(adv.size() == 1);
  REQUIRE(adv[0].rows.size() == 2);
  CHECK(adv[0].rows[1].room_id == room_r);
  // None of this server's timers: still online past the sync and idle timeouts...
  e.advance(actors::presence_sync_online_timeout + 10min);
  CHECK(e.published().empty());
  CHECK(e.row(remote).state == "online");
  // ...until 30 minutes pass without word from her server.
  e.advance(20min);
  adv = e.published();
  REQUIRE(adv.size() == 1);
  CHECK(e.row(remote).state == "offline");
}

TEST_CASE_TEMPLATE("presence writer: PUT online, then offline after the sync timeout", DB,
                   sqlite_db, pg_db) {
  AXON_ENV_OR_SKIP(DB);
  // Alice is joined to one room: her rows name her and the room.
  e.pool->acquire()->exec("INSERT INTO local_current_membership (user_id, room_id, event_id, "
                          "membership, stream_ordering) VALUES ($1, $2, '$m', 'join', 1)",
                          {alice, room_r});
  e.spawn();
  CHECK(std::get<int64_t>(e.ask(msg::set_presence{alice, "online", "hi"})) == 1);
  auto r = e.row(alice);
  CHECK(r.state == "online");
  CHECK(r.status_msg == "hi");
  CHECK(r.last_active_ts == t0);
  CHECK(r.currently_active);
  auto adv = e.published();
  REQUIRE(adv.size() == 1);
  CHECK(adv[0].stream == index(stream_id::presence));
  CHECK(adv[0].pos == 1);
  REQUIRE(adv[0].rows.size() == 2);
  CHECK(adv[0].rows[0].user_ids == std::vector<std::string>{alice});
  CHECK(adv[0].rows[1].room_id == room_r);

  // No /sync: offline SYNC_ONLINE_TIMEOUT after the last activity, the
  // status message kept.
  e.advance(actors::presence_sync_online_timeout - 1ms);
  CHECK(e.published().empty());
  e.advance(1ms);
  adv = e.published();
  REQUIRE(adv.size() == 1);
  CHECK(adv[0].pos == 2);
  r = e.row(alice);
  CHECK(r.state == "offline");
  CHECK(r.status_msg == "hi");
  CHECK_FALSE(r.currently_active);
  CHECK(r.stream_id == 2);
  // Nothing further happens to an offline user.
  e.advance(1h);
  CHECK(e.published().empty());
}

TEST_CASE_TEMPLATE("presence writer: syncing keeps a user online without writes", DB, sqlite_db,
                   pg_db) {
  AXON_ENV_OR_SKIP(DB);
  e.spawn();
  CHECK(std::get<int64_t>(e.ask(msg::user_syncing{alice, "online", 30000})) == 1);
  CHECK(e.row(alice).last_user_sync_ts == t0);
  CHECK(e.published().size() == 1);
  // Syncs every 20 s: nothing clients see changes, nothing is written.
  for (int i = 0; i < 10; ++i) {
    e.advance(20s);
    CHECK(std::get<int64_t>(e.ask(msg::user_syncing{alice, "online", 30000})) == 1);
  }
  CHECK(e.published().empty());
  CHECK(e.row(alice).state == "online");
  CHECK(e.row(alice).stream_id == 1);
  // The syncs stop (the last may run 30 s): not currently active after a
  // minute, offline 30 s after the sync ended.
  e.advance(60s - 1ms);
  CHECK(e.published().empty());
  e.advance(1ms);
  CHECK(e.published().size() == 1);
  CHECK(e.row(alice).state == "offline");
  CHECK(e.row(alice).stream_id == 2);
  // A sync with set_presence=unavailable sets unavailable, keeps the
  // status message.
  CHECK(std::get<int64_t>(e.ask(msg::set_presence{alice, "online", "busy"})) == 3);
  CHECK(std::get<int64_t>(e.ask(msg::user_syncing{alice, "unavailable", 0})) == 4);
  CHECK(e.row(alice).state == "unavailable");
  CHECK(e.row(alice).status_msg == "busy");
}

TEST_CASE_TEMPLATE("presence writer: idle, not currently active, unavailable, offline", DB,
                   sqlite_db, pg_db) {
  AXON_ENV_OR_SKIP(DB);
  // A sync timeout longer than the idle timer shows each step on its own.
  actors::presence_timeouts t;
  t.sync_online = 10min;
  e.spawn(t);
  CHECK(std::get<int64_t>(e.ask(msg::set_presence{alice, "online", ""})) == 1);
  CHECK(e.row(alice).currently_active);
  e.advance(actors::presence_last_active_granularity);
  CHECK(e.published().size() == 2); // the PUT's and this one
  auto r = e.row(alice);
  CHECK(r.state == "online");
  CHECK_FALSE(r.currently_active);
  CHECK(r.stream_id == 2);
  e.advance(actors::presence_idle_timer - actors::presence_last_active_granularity);
  CHECK(e.row(alice).state == "unavailable");
  CHECK(e.row(alice).stream_id == 3);
  e.advance(10min - actors::presence_idle_timer);
  CHECK(e.row(alice).state == "offline");
  CHECK(e.row(alice).stream_id == 4);
}

TEST_CASE_TEMPLATE("presence writer: bad requests change nothing", DB, sqlite_db, pg_db) {
  AXON_ENV_OR_SKIP(DB);
  e.spawn();
  CHECK(std::get<errc>(e.ask(msg::set_presence{alice, "away", ""})) == errc::invalid_param);
  CHECK(std::get<errc>(e.ask(msg::user_syncing{alice, "offline", 0})) == errc::invalid_param);
  CHECK_FALSE(e.store->get(alice));
  CHECK(e.published().empty());
  // PUT offline for a user never seen: a row, announced once.
  CHECK(std::get<int64_t>(e.ask(msg::set_presence{bob, "offline", "gone"})) == 1);
  CHECK(std::get<int64_t>(e.ask(msg::set_presence{bob, "offline", "gone"})) == 1);
  CHECK(e.published().size() == 1);
}

TEST_CASE_TEMPLATE("presence writer: a restart resumes the timers of users left online", DB,
                   sqlite_db, pg_db) {
  AXON_ENV_OR_SKIP(DB);
  e.store->put({alice, "online", "", t0 - 5000, t0 - 5000, true, 7});
  e.spawn();
  e.advance(actors::presence_sync_online_timeout - 5000ms - 1ms);
  CHECK(e.row(alice).state == "online");
  e.advance(1ms);
  CHECK(e.row(alice).state == "offline");
  CHECK(e.row(alice).stream_id == 8);
}

// ---- messages --------------------------------------------------------------------

TEST_CASE("presence messages round-trip through CAF serialization and JSON") {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto through_caf = [&](const auto& x) {
    using T = std::decay_t<decltype(x)>;
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE_FALSE(sink(caf::make_message(x)));
    caf::message back;
    caf::binary_deserializer source{sys, buf};
    REQUIRE_FALSE(source(back));
    REQUIRE(back.match_elements<T>());
    return back.get_as<T>(0);
  };
  msg::set_presence sp{alice, "unavailable", "Grüße 🎉", true, 1234, true};
  for (auto& back : {through_caf(sp), nlohmann::json::parse(nlohmann::json(sp).dump()).get<msg::set_presence>()}) {
    CHECK(back.user_id == sp.user_id);
    CHECK(back.presence == sp.presence);
    CHECK(back.status_msg == sp.status_msg);
    CHECK(back.remote == sp.remote);
    CHECK(back.last_active_ago == sp.last_active_ago);
    CHECK(back.currently_active == sp.currently_active);
  }
  CHECK(nlohmann::json(sp).size() == 6);
  msg::user_syncing us{bob, "online", 30000};
  for (auto& back : {through_caf(us), nlohmann::json::parse(nlohmann::json(us).dump()).get<msg::user_syncing>()}) {
    CHECK(back.user_id == us.user_id);
    CHECK(back.presence == us.presence);
    CHECK(back.timeout_ms == us.timeout_ms);
  }
  CHECK(nlohmann::json(us).size() == 3);
}
