// The notifier on CAF's deterministic test_coordinator, driven by hand
// (shared/docs/caf-0.17.md, "Deterministic tests with doctest").
#include "actors/notifier/notifier.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

using namespace axon;
using namespace std::chrono_literals;

namespace {

// ---- fixture ---------------------------------------------------------------------

/// The events stream's start position; stream i starts at 10 * (i + 1), so
/// every stream's position is distinguishable in a reply.
constexpr int64_t start = 10;
constexpr int64_t ad_start = 10 * (static_cast<int64_t>(stream_id::account_data) + 1); // 50
const std::string room_r = "!r:example.org";
const std::string room_s = "!s:example.org";
const std::string alice = "@alice:example.org";
const std::string bob = "@bob:example.org";
const std::string carol = "@carol:example.org";

std::vector<int64_t> starts() {
  std::vector<int64_t> v(stream_count);
  for (size_t i = 0; i < stream_count; ++i) v[i] = 10 * static_cast<int64_t>(i + 1);
  return v;
}

/// The start positions with some streams moved on.
std::vector<int64_t> at(std::initializer_list<std::pair<stream_id, int64_t>> moved) {
  auto v = starts();
  for (auto& [s, p] : moved) v[index(s)] = p;
  return v;
}

/// The start positions with the events stream at `events`.
std::vector<int64_t> at(int64_t events) { return at({{stream_id::events, events}}); }

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;
  /// Where the notifier publishes its positions for request threads.
  std::shared_ptr<stream_positions> published = std::make_shared<stream_positions>();
  notifier_actor notifier;

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    register_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    return cfg;
  }

  fixture()
    : sys(init(cfg)), self(sys, true),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    for (auto& a : published->at) a.store(-1);
    notifier = actors::spawn_notifier(sys, starts(), published);
    sched.run();
  }

  ~fixture() {
    sched.run();
    sched.trigger_timeouts(); // delayed timeouts keep the notifier busy otherwise
    sched.run();
  }

  /// The next reply in `who`'s mailbox, if one is there now: the positions
  /// of every stream (wait_for_updates, get_atom) or one position
  /// (await_stream_position).
  struct answer {
    std::optional<std::vector<int64_t>> positions;
    std::optional<int64_t> pos;
  };
  static answer next(caf::scoped_actor& who) {
    answer a;
    if (who->mailbox().empty()) return a;
    who->receive([&](std::vector<int64_t>& v) { a.positions = std::move(v); },
                 [&](int64_t p) { a.pos = p; });
    return a;
  }
  static std::optional<std::vector<int64_t>> reply(caf::scoped_actor& who) {
    return next(who).positions;
  }
  static std::optional<int64_t> pos_reply(caf::scoped_actor& who) { return next(who).pos; }

  msg::wait_for_updates wait(std::string user, std::vector<int64_t> since,
                             std::vector<std::string> rooms, int64_t timeout_ms = 30000) {
    return {std::move(user), std::move(since), std::move(rooms), timeout_ms};
  }
  /// A wait that has seen the events stream up to `since` and every other
  /// stream up to its start.
  msg::wait_for_updates wait(std::string user, int64_t since, std::vector<std::string> rooms,
                             int64_t timeout_ms = 30000) {
    return wait(std::move(user), at(since), std::move(rooms), timeout_ms);
  }

  void advance(int64_t pos, std::vector<msg::events_row> rows) {
    self->send(notifier, msg::events_advanced{"writer1", pos, std::move(rows)});
    sched.run();
  }

  void advance(stream_id s, int64_t pos, std::vector<msg::stream_row> rows) {
    self->send(notifier,
               msg::stream_advanced{static_cast<uint8_t>(s), "writer1", pos, std::move(rows)});
    sched.run();
  }

  std::vector<int64_t> get_positions() {
    self->send(notifier, caf::get_atom_v);
    sched.run();
    auto got = reply(self);
    REQUIRE(got);
    return *got;
  }

  static msg::events_row message_row(int64_t pos, const std::string& room) {
    return {pos, "$m" + std::to_string(pos), room, "m.room.message", false, "", ""};
  }
  static msg::events_row member_row(int64_t pos, const std::string& room,
                                    const std::string& user, const std::string& membership) {
    return {pos, "$j" + std::to_string(pos), room, "m.room.member", true, user, membership};
  }
  static msg::stream_row room_row(int64_t pos, const std::string& room) {
    return {pos, room, {}};
  }
  static msg::stream_row user_row(int64_t pos, std::vector<std::string> users) {
    return {pos, "", std::move(users)};
  }
};

} // namespace

// ---- cases -------------------------------------------------------------------------

/// An actor system on the test coordinator, for tests that spawn a
/// notifier of their own (several events writers, a shortcut).
struct own_notifier {
  caf::actor_system_config cfg;
  caf::actor_system sys{fixture::init(cfg)};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::shared_ptr<stream_positions> published = std::make_shared<stream_positions>();
};

TEST_CASE_FIXTURE(fixture, "get_atom returns every stream's position, which only moves forward") {
  CHECK(get_positions() == starts());
  CHECK(published->snapshot() == starts());

  advance(14, {message_row(14, room_r)});
  CHECK(get_positions() == at(14));
  CHECK(published->get(stream_id::events) == 14);

  advance(12, {}); // a late update from another writer never moves it back
  CHECK(get_positions() == at(14));
  CHECK(published->get(stream_id::events) == 14);
}

TEST_CASE_FIXTURE(fixture, "a waiter wakes with the new position when its room gets a row") {
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}));
  sched.run();
  CHECK_FALSE(reply(waiter)); // nothing new yet: it waits

  advance(11, {message_row(11, room_r)});
  CHECK(reply(waiter) == at(11));

  // Woken once: it is gone, a later row does not answer again.
  advance(12, {message_row(12, room_r)});
  CHECK_FALSE(reply(waiter));
}

TEST_CASE_FIXTURE(fixture, "a row in another room does not wake the waiter") {
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}));
  sched.run();

  advance(11, {message_row(11, room_s)});
  CHECK_FALSE(reply(waiter));
  advance(12, {member_row(12, room_s, bob, "join")}); // someone else's membership
  CHECK_FALSE(reply(waiter));

  // It is still registered: its own room wakes it, with the newest position.
  advance(13, {message_row(13, room_s), message_row(13, room_r)});
  CHECK(reply(waiter) == at(13));
}

TEST_CASE_FIXTURE(fixture, "the user's own membership wakes a waiter for a room not in its list") {
  caf::scoped_actor waiter{sys, true};
  caf::scoped_actor other{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}));
  other->send(notifier, wait(bob, start, {room_r}));
  sched.run();

  advance(11, {member_row(11, room_s, alice, "invite")});
  CHECK(reply(waiter) == at(11));
  CHECK_FALSE(reply(other));

  // A message in that room does not concern a user only invited there by id.
  caf::scoped_actor again{sys, true};
  again->send(notifier, wait(alice, 11, {room_r}));
  sched.run();
  advance(12, {message_row(12, room_s)});
  CHECK_FALSE(reply(again));
}

TEST_CASE_FIXTURE(fixture, "a wait older than a concerning row in history answers at once") {
  advance(11, {message_row(11, room_r)});
  advance(12, {message_row(12, room_s)});

  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}));
  sched.run();
  CHECK(reply(waiter) == at(12));

  // The same wait from position 11 has nothing new in R: it waits.
  caf::scoped_actor later{sys, true};
  later->send(notifier, wait(alice, 11, {room_r}));
  sched.run();
  CHECK_FALSE(reply(later));

  // A membership row in history counts as well.
  advance(13, {member_row(13, room_s, bob, "join")});
  caf::scoped_actor member{sys, true};
  member->send(notifier, wait(bob, 12, {}));
  sched.run();
  CHECK(reply(member) == at(13));
}

TEST_CASE_FIXTURE(fixture, "a since older than the history the notifier has answers at once") {
  // Started at 10 with no history: whatever happened up to 10 is unknown.
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, 3, {room_r}));
  sched.run();
  CHECK(reply(waiter) == at(start));
}

TEST_CASE_FIXTURE(fixture, "a zero timeout answers at once with the unchanged position") {
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}, 0));
  sched.run();
  CHECK(reply(waiter) == at(start));
}

TEST_CASE_FIXTURE(fixture, "the timeout answers with the unchanged position") {
  caf::scoped_actor waiter{sys, true};
  caf::scoped_actor longer{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}, 5000));
  longer->send(notifier, wait(bob, start, {room_r}, 60000));
  sched.run();
  advance(11, {message_row(11, room_s)}); // unrelated: no wake, but the position moves

  CHECK(sched.advance_time(std::chrono::milliseconds(4999)) == 0);
  sched.run();
  CHECK_FALSE(reply(waiter));

  CHECK(sched.advance_time(std::chrono::milliseconds(1)) == 1);
  sched.run();
  CHECK(reply(waiter) == at(11));
  CHECK_FALSE(reply(longer));

  // After its timeout the waiter is forgotten: a row in R answers only the other.
  advance(12, {message_row(12, room_r)});
  CHECK_FALSE(reply(waiter));
  CHECK(reply(longer) == at(12));

  // The other's timeout, firing later, answers nothing more.
  sched.trigger_timeouts();
  sched.run();
  CHECK_FALSE(reply(longer));
}

TEST_CASE_FIXTURE(fixture, "await_stream_position answers once the stream reaches the position") {
  auto events = static_cast<uint8_t>(stream_id::events);
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, msg::await_stream_position{events, 12});
  sched.run();
  CHECK_FALSE(pos_reply(waiter));

  advance(11, {message_row(11, room_r)});
  CHECK_FALSE(pos_reply(waiter));

  advance(13, {message_row(12, room_r), message_row(13, room_s)});
  CHECK(pos_reply(waiter) == 13);

  // A position already reached answers at once, with at least that position
  // and no more than the stream's.
  self->send(notifier, msg::await_stream_position{events, start});
  sched.run();
  auto now = pos_reply(self);
  REQUIRE(now);
  CHECK(*now >= start);
  CHECK(*now <= 13);
}

TEST_CASE_FIXTURE(fixture, "several waiters on one room all wake; others stay") {
  caf::scoped_actor a{sys, true}, b{sys, true}, c{sys, true};
  a->send(notifier, wait(alice, start, {room_r, room_s}));
  b->send(notifier, wait(bob, start, {room_r}));
  c->send(notifier, wait(bob, start, {room_s}));
  sched.run();

  advance(11, {message_row(11, room_r)});
  CHECK(reply(a) == at(11));
  CHECK(reply(b) == at(11));
  CHECK_FALSE(reply(c));

  advance(12, {message_row(12, room_s)});
  CHECK_FALSE(reply(a)); // already answered
  CHECK(reply(c) == at(12));
}

// ---- streams besides events ----------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "each stream's position is kept apart and published") {
  advance(stream_id::account_data, ad_start + 3, {user_row(ad_start + 3, {alice})});
  CHECK(get_positions() == at({{stream_id::account_data, ad_start + 3}}));
  CHECK(published->get(stream_id::account_data) == ad_start + 3);
  CHECK(published->get(stream_id::events) == start); // other streams untouched

  advance(15, {message_row(15, room_r)});
  auto both = at({{stream_id::events, 15}, {stream_id::account_data, ad_start + 3}});
  CHECK(get_positions() == both);
  CHECK(published->snapshot() == both);

  // A late update of one stream moves nothing back.
  advance(stream_id::account_data, ad_start + 1, {});
  CHECK(get_positions() == both);
  CHECK(published->snapshot() == both);

  // An unknown stream id is ignored.
  self->send(notifier, msg::stream_advanced{static_cast<uint8_t>(stream_count), "w", 999,
                                            {user_row(999, {alice})}});
  sched.run();
  CHECK(get_positions() == both);
  CHECK(published->snapshot() == both);
}

TEST_CASE_FIXTURE(fixture, "a stream row with a room_id wakes the waiters of that room only") {
  caf::scoped_actor in_r{sys, true}, in_s{sys, true}, in_both{sys, true};
  in_r->send(notifier, wait(alice, start, {room_r}));
  in_s->send(notifier, wait(bob, start, {room_s}));
  in_both->send(notifier, wait(carol, start, {room_s, room_r}));
  sched.run();

  auto typing = stream_id::typing;
  auto typing_start = starts()[index(typing)];
  advance(typing, typing_start + 1, {room_row(typing_start + 1, room_r)});
  CHECK(reply(in_r) == at({{typing, typing_start + 1}}));
  CHECK(reply(in_both) == at({{typing, typing_start + 1}}));
  CHECK_FALSE(reply(in_s));

  // A room row does not concern a user by name: a user-only waiter stays.
  caf::scoped_actor no_rooms{sys, true};
  no_rooms->send(notifier, wait(alice, at({{typing, typing_start + 1}}), {}));
  sched.run();
  advance(typing, typing_start + 2, {room_row(typing_start + 2, room_r)});
  CHECK_FALSE(reply(no_rooms));
  CHECK_FALSE(reply(in_s));

  advance(typing, typing_start + 3, {room_row(typing_start + 3, room_s)});
  CHECK(reply(in_s) == at({{typing, typing_start + 3}}));
  CHECK_FALSE(reply(no_rooms));
}

TEST_CASE_FIXTURE(fixture, "a stream row with user_ids wakes only those users") {
  caf::scoped_actor a{sys, true}, b{sys, true}, c{sys, true};
  a->send(notifier, wait(alice, start, {room_r}));
  b->send(notifier, wait(bob, start, {room_r}));
  c->send(notifier, wait(carol, start, {}));
  sched.run();

  advance(stream_id::account_data, ad_start + 1, {user_row(ad_start + 1, {alice, carol})});
  CHECK(reply(a) == at({{stream_id::account_data, ad_start + 1}}));
  CHECK(reply(c) == at({{stream_id::account_data, ad_start + 1}}));
  CHECK_FALSE(reply(b)); // in the same room, but the row is not about the room

  // A row about someone else (no room) wakes nobody else.
  advance(stream_id::account_data, ad_start + 2, {user_row(ad_start + 2, {carol})});
  CHECK_FALSE(reply(b));
  advance(stream_id::account_data, ad_start + 3, {user_row(ad_start + 3, {bob})});
  CHECK(reply(b) == at({{stream_id::account_data, ad_start + 3}}));
}

TEST_CASE_FIXTURE(fixture, "since is per stream: history rows at or below it don't wake, later ones do") {
  auto ad = stream_id::account_data;
  advance(ad, ad_start + 1, {user_row(ad_start + 1, {alice})});
  advance(ad, ad_start + 2, {user_row(ad_start + 2, {alice})});
  advance(12, {message_row(12, room_s)});
  auto now = at({{stream_id::events, 12}, {ad, ad_start + 2}});

  // Seen account_data up to ad_start + 2: its history has nothing new.
  caf::scoped_actor seen{sys, true};
  seen->send(notifier, wait(alice, at({{stream_id::events, 12}, {ad, ad_start + 2}}), {room_r}));
  sched.run();
  CHECK_FALSE(reply(seen));

  // Seen account_data only up to ad_start + 1: the row at ad_start + 2 is
  // news, whatever the client saw of the other streams.
  caf::scoped_actor behind{sys, true};
  behind->send(notifier, wait(alice, at({{stream_id::events, 12}, {ad, ad_start + 1}}), {room_r}));
  sched.run();
  CHECK(reply(behind) == now);

  // Another user's since behind on account_data: the rows are not about them.
  caf::scoped_actor other{sys, true};
  other->send(notifier, wait(bob, at({{stream_id::events, 12}, {ad, ad_start}}), {room_r}));
  sched.run();
  CHECK_FALSE(reply(other));

  // Ahead on events but behind on account_data still counts per stream: the
  // events since does not cover account_data rows.
  caf::scoped_actor mixed{sys, true};
  mixed->send(notifier, wait(alice, at({{stream_id::events, 12}, {ad, ad_start}}), {}));
  sched.run();
  CHECK(reply(mixed) == now);

  // A since older than the stream's history answers at once.
  caf::scoped_actor old{sys, true};
  old->send(notifier, wait(carol, at({{stream_id::events, 12}, {ad, 3}}), {}));
  sched.run();
  CHECK(reply(old) == now);

  // A later row wakes the waiter that had seen everything.
  advance(ad, ad_start + 3, {user_row(ad_start + 3, {alice})});
  CHECK(reply(seen) == at({{stream_id::events, 12}, {ad, ad_start + 3}}));
  CHECK_FALSE(reply(other));
}

TEST_CASE_FIXTURE(fixture, "await_stream_position waits on its own stream only") {
  auto ad = static_cast<uint8_t>(stream_id::account_data);
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, msg::await_stream_position{ad, ad_start + 2});
  sched.run();
  CHECK_FALSE(pos_reply(waiter));

  // The events stream passing that number does not answer it.
  advance(ad_start + 5, {message_row(ad_start + 5, room_r)});
  CHECK_FALSE(pos_reply(waiter));
  advance(stream_id::account_data, ad_start + 1, {user_row(ad_start + 1, {alice})});
  CHECK_FALSE(pos_reply(waiter));
  advance(stream_id::account_data, ad_start + 3, {user_row(ad_start + 3, {alice})});
  CHECK(pos_reply(waiter) == ad_start + 3);

  // Several waiters on different streams and positions.
  caf::scoped_actor w1{sys, true}, w2{sys, true}, w3{sys, true};
  auto typing = stream_id::typing;
  auto typing_start = starts()[index(typing)];
  w1->send(notifier, msg::await_stream_position{static_cast<uint8_t>(typing), typing_start + 1});
  w2->send(notifier, msg::await_stream_position{static_cast<uint8_t>(typing), typing_start + 2});
  w3->send(notifier, msg::await_stream_position{ad, ad_start + 4});
  sched.run();
  advance(typing, typing_start + 1, {room_row(typing_start + 1, room_r)});
  CHECK(pos_reply(w1) == typing_start + 1);
  CHECK_FALSE(pos_reply(w2));
  CHECK_FALSE(pos_reply(w3));
  advance(typing, typing_start + 2, {});
  CHECK(pos_reply(w2) == typing_start + 2);
  CHECK_FALSE(pos_reply(w3));
  advance(stream_id::account_data, ad_start + 4, {});
  CHECK(pos_reply(w3) == ad_start + 4);

  // A position already reached on that stream answers at once.
  self->send(notifier, msg::await_stream_position{ad, ad_start});
  sched.run();
  auto got = pos_reply(self);
  REQUIRE(got);
  CHECK(*got >= ad_start);
  CHECK(*got <= ad_start + 4);

  // An unknown stream cannot be waited for: it answers at once.
  self->send(notifier, msg::await_stream_position{static_cast<uint8_t>(stream_count), 5});
  sched.run();
  CHECK(pos_reply(self));
}

TEST_CASE_FIXTURE(fixture, "events and other streams wake the same waiter; the timeout sends all positions") {
  caf::scoped_actor a{sys, true}, b{sys, true};
  a->send(notifier, wait(alice, start, {room_r}, 5000));
  b->send(notifier, wait(bob, start, {room_r}, 5000));
  sched.run();

  advance(stream_id::account_data, ad_start + 1, {user_row(ad_start + 1, {alice})});
  CHECK(reply(a) == at({{stream_id::account_data, ad_start + 1}}));
  CHECK_FALSE(reply(b));

  CHECK(sched.advance_time(std::chrono::milliseconds(5000)) == 1); // one tick for both timeouts
  sched.run();
  CHECK(reply(b) == at({{stream_id::account_data, ad_start + 1}}));
  CHECK_FALSE(reply(a));
}

TEST_CASE_FIXTURE(fixture, "a catch-up exposes the position and wakes every waiter") {
  auto receipts = static_cast<uint8_t>(stream_id::receipts);
  caf::scoped_actor w1{sys, true}, w2{sys, true}, pos_waiter{sys, true};
  w1->send(notifier, wait("@a:x", start, {room_r}));
  w2->send(notifier, wait("@b:x", start, {room_s}));
  auto rs = starts()[receipts];
  pos_waiter->send(notifier, msg::await_stream_position{receipts, rs + 10});
  sched.run();
  CHECK_FALSE(reply(w1));
  CHECK_FALSE(reply(w2));
  CHECK_FALSE(pos_reply(pos_waiter));

  // Whose rows lie below rs + 15 is unknown: everyone looks.
  self->send(notifier, msg::stream_caught_up{receipts, rs + 15, ""});
  sched.run();
  auto a = reply(w1), b = reply(w2);
  REQUIRE(a);
  REQUIRE(b);
  CHECK((*a)[receipts] == rs + 15);
  CHECK(pos_reply(pos_waiter) == rs + 15);
  CHECK(published->get(stream_id::receipts) == rs + 15);

  // A late row below the position moves nothing back; an older catch-up is ignored.
  advance(stream_id::receipts, rs + 12, {msg::stream_row{rs + 12, room_r, {}}});
  self->send(notifier, msg::stream_caught_up{receipts, rs + 11, ""});
  sched.run();
  CHECK(get_positions()[receipts] == rs + 15);
  // A new waiter whose since predates the unknown rows answers at once.
  caf::scoped_actor w3{sys, true};
  auto since = at(start);
  since[receipts] = rs + 11;
  w3->send(notifier, wait("@c:x", since, {"!other:x"}));
  sched.run();
  CHECK(reply(w3));
}

TEST_CASE_FIXTURE(own_notifier, "several events writers: each writer's rows show at its own position") {
  auto n = actors::spawn_notifier(sys, at(start), published, {{"w1", start}, {"w2", start}});
  sched.run();
  REQUIRE(published->size == stream_count + 2);
  auto events = index(stream_id::events);
  auto w1 = writer_slot(0), w2 = writer_slot(1);
  caf::scoped_actor self{sys, true}, waiter{sys, true}, w1_waiter{sys, true}, low_waiter{sys, true};
  waiter->send(n, msg::wait_for_updates{alice, at(start), {room_r}, 30000});
  w1_waiter->send(n, msg::await_stream_position{static_cast<uint8_t>(w1), start + 2});
  low_waiter->send(n, msg::await_stream_position{static_cast<uint8_t>(events), start + 2});
  sched.run();

  // w1 stored start+1 and start+2 (w2 may still store start+1 in another
  // room): w1's rows show and wake at once; the lowest position stays.
  self->send(n, msg::events_advanced{"w1", start + 2, {fixture::message_row(start + 2, room_r)}});
  sched.run();
  auto got = fixture::reply(waiter);
  REQUIRE(got);
  REQUIRE(got->size() == stream_count + 2);
  CHECK((*got)[w1] == start + 2);
  CHECK((*got)[w2] == start);
  CHECK((*got)[events] == start);
  CHECK(fixture::pos_reply(w1_waiter) == start + 2);
  CHECK_FALSE(fixture::pos_reply(low_waiter));
  CHECK(published->at[w1].load() == start + 2);
  CHECK(published->get(stream_id::events) == start);

  // A waiter that has seen w1's row is not woken by it again; w2's row in
  // another room does not concern it.
  auto since = *got;
  waiter->send(n, msg::wait_for_updates{alice, since, {room_r}, 30000});
  sched.run();
  CHECK_FALSE(fixture::reply(waiter));
  self->send(n, msg::events_advanced{"w2", start + 1, {fixture::message_row(start + 1, room_s)}});
  sched.run();
  CHECK_FALSE(fixture::reply(waiter));
  CHECK(published->get(stream_id::events) == start + 1);
  CHECK_FALSE(fixture::pos_reply(low_waiter));

  // w2 claims start+2 (nothing in flight): the lowest position follows.
  self->send(n, msg::events_advanced{"w2", start + 2, {}});
  sched.run();
  CHECK(published->get(stream_id::events) == start + 2);
  CHECK(fixture::pos_reply(low_waiter) == start + 2);
  CHECK_FALSE(fixture::reply(waiter));

  // A writer's lost rows (Redis gap): that writer moves, everyone wakes.
  self->send(n, msg::stream_caught_up{static_cast<uint8_t>(events), start + 5, "w1"});
  sched.run();
  CHECK(published->get(stream_id::events) == start + 2); // w2 is still at start+2
  CHECK(published->at[w1].load() == start + 5);
  got = fixture::reply(waiter);
  REQUIRE(got);
  CHECK((*got)[w1] == start + 5);
  // Someone exposed start+4 as the lowest: every writer is there.
  self->send(n, msg::stream_caught_up{static_cast<uint8_t>(events), start + 4, ""});
  sched.run();
  CHECK(published->get(stream_id::events) == start + 4);
  CHECK(published->at[w2].load() == start + 4);
  CHECK(published->at[w1].load() == start + 5);
  sched.run();
  sched.trigger_timeouts();
  sched.run();
}

namespace {

/// What the fake liveness checker answers, and how often it was asked.
struct liveness_view {
  std::set<std::string> running;
  std::map<std::string, int64_t> recorded;
  int checks = 0;
};

writer_liveness_actor::behavior_type fake_liveness(writer_liveness_actor::pointer,
                                                   std::shared_ptr<liveness_view> view) {
  return {
    [=](const msg::check_events_writers& req) {
      ++view->checks;
      msg::events_writers_status out;
      for (auto& w : req.writers) {
        if (view->running.count(w)) out.running.push_back(w);
        out.recorded.push_back(view->recorded.count(w) ? view->recorded[w] : 0);
      }
      return out;
    },
  };
}

} // namespace

TEST_CASE_FIXTURE(own_notifier, "several events writers: one that is down stops holding back the lowest position") {
  auto view = std::make_shared<liveness_view>();
  view->running = {"w1", "w2"};
  view->recorded = {{"w1", start}, {"w2", start}};
  auto liveness = sys.spawn(fake_liveness, view);
  auto n = actors::spawn_notifier(sys, at(start), published, {{"w1", start}, {"w2", start}}, liveness);
  sched.run();
  caf::scoped_actor self{sys, true}, waiter{sys, true};
  auto w2 = writer_slot(1);
  // Bob waits in w2's room.
  waiter->send(n, msg::wait_for_updates{bob, at(start), {room_s}, 60000});
  sched.run();

  // w1 stored start+1 and start+2 in its room; w2 is silent.
  self->send(n, msg::events_advanced{"w1", start + 2, {fixture::message_row(start + 2, room_r)}});
  sched.run();
  CHECK(view->checks == 0);
  // Two seconds on: asked about w2, which runs: nothing moves.
  sched.advance_time(2s);
  sched.run();
  CHECK(view->checks == 1);
  CHECK_FALSE(fixture::reply(waiter));
  CHECK(published->get(stream_id::events) == start);

  // w2 stored start+1 in Bob's room, recorded it, and died before
  // publishing: at the next stall check it is left out of the lowest
  // position and shown up to what it recorded; everyone wakes.
  view->running = {"w1"};
  view->recorded["w2"] = start + 1;
  sched.advance_time(2s);
  sched.run();
  CHECK(view->checks == 2);
  auto got = fixture::reply(waiter);
  REQUIRE(got);
  CHECK((*got)[w2] >= start + 1);
  CHECK(published->get(stream_id::events) == start + 2);

  // While w2 is down, each move of the lowest position asks again first.
  self->send(n, msg::events_advanced{"w1", start + 3, {fixture::message_row(start + 3, room_r)}});
  sched.run();
  CHECK(view->checks == 3);
  CHECK(published->get(stream_id::events) == start + 3);

  // w2 starts again and records its claim start+4 before storing anything;
  // w1 stores start+5: the check finds w2 running, which counts again.
  view->running = {"w1", "w2"};
  view->recorded["w2"] = start + 4;
  self->send(n, msg::events_advanced{"w1", start + 5, {fixture::message_row(start + 5, room_r)}});
  sched.run();
  CHECK(view->checks == 4);
  CHECK(published->get(stream_id::events) == start + 4);
  // w2 claims start+5: no question asked any more.
  self->send(n, msg::events_advanced{"w2", start + 5, {}});
  sched.run();
  CHECK(view->checks == 4);
  CHECK(published->get(stream_id::events) == start + 5);

  sched.run();
  sched.trigger_timeouts();
  sched.run();
  caf::anon_send_exit(liveness, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_FIXTURE(own_notifier, "the pub/sub shortcut applies rows that wake no one, and only those") {
  notifier_shortcut shortcut;
  auto n = actors::spawn_notifier(sys, at(start), published, {}, {}, &shortcut);
  sched.run();
  REQUIRE(shortcut.events);
  REQUIRE(shortcut.stream);
  caf::scoped_actor waiter{sys, true}, pos_waiter{sys, true}, late{sys, true};
  waiter->send(n, msg::wait_for_updates{alice, at(start), {room_r}, 30000});
  sched.run();

  // A row in another room: applied on the calling thread, nothing queued.
  CHECK(shortcut.events(msg::events_advanced{"main", start + 1, {fixture::message_row(start + 1, room_s)}}));
  CHECK(published->get(stream_id::events) == start + 1);
  CHECK_FALSE(sched.has_job());
  CHECK_FALSE(fixture::reply(waiter));

  // A row in Alice's room would wake her: refused, nothing changed.
  CHECK_FALSE(shortcut.events(msg::events_advanced{"main", start + 2, {fixture::message_row(start + 2, room_r)}}));
  CHECK(published->get(stream_id::events) == start + 1);

  // Someone waits for a position the row reaches: refused too.
  auto receipts = index(stream_id::receipts);
  auto rs = at(start)[receipts];
  pos_waiter->send(n, msg::await_stream_position{static_cast<uint8_t>(receipts), rs + 1});
  sched.run();
  CHECK_FALSE(shortcut.stream(msg::stream_advanced{static_cast<uint8_t>(receipts), "main", rs + 1, {}}));
  CHECK(shortcut.stream(msg::stream_advanced{static_cast<uint8_t>(stream_id::typing), "main", 99, {}}));
  // Sent to the notifier instead, it answers.
  pos_waiter->send(n, msg::stream_advanced{static_cast<uint8_t>(receipts), "main", rs + 1, {}});
  sched.run();
  CHECK(fixture::pos_reply(pos_waiter) == rs + 1);

  // A row the shortcut applied is in the history: a later waiter that has
  // not seen it answers at once.
  late->send(n, msg::wait_for_updates{bob, at(start), {room_s}, 30000});
  sched.run();
  auto got = fixture::reply(late);
  REQUIRE(got);
  CHECK((*got)[index(stream_id::events)] == start + 1);
  sched.run();
  sched.trigger_timeouts();
  sched.run();
}
