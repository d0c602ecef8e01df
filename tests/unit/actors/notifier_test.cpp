// The notifier on CAF's deterministic test_coordinator, driven by hand
// (shared/docs/caf-0.17.md, "Deterministic tests with doctest").
#include "actors/notifier/notifier.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

using namespace axon;
using namespace std::chrono_literals;

namespace {

// ---- fixture ---------------------------------------------------------------------

constexpr int64_t start = 10;
const std::string room_r = "!r:example.org";
const std::string room_s = "!s:example.org";
const std::string alice = "@alice:example.org";
const std::string bob = "@bob:example.org";

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;
  /// Where the notifier publishes its position for request threads.
  std::shared_ptr<std::atomic<int64_t>> published = std::make_shared<std::atomic<int64_t>>(-1);
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
    notifier = actors::spawn_notifier(sys, start, published);
    sched.run();
  }

  ~fixture() {
    sched.run();
    sched.trigger_timeouts(); // delayed timeouts keep the notifier busy otherwise
    sched.run();
  }

  /// The next int64_t reply in `who`'s mailbox, if one is there now.
  static std::optional<int64_t> reply(caf::scoped_actor& who) {
    if (who->mailbox().empty()) return std::nullopt;
    std::optional<int64_t> got;
    who->receive([&](int64_t pos) { got = pos; });
    return got;
  }

  msg::wait_for_events wait(std::string user, int64_t since, std::vector<std::string> rooms,
                            int64_t timeout_ms = 30000) {
    return {std::move(user), since, std::move(rooms), timeout_ms};
  }

  void advance(int64_t pos, std::vector<msg::events_row> rows) {
    self->send(notifier, msg::events_advanced{"writer1", pos, std::move(rows)});
    sched.run();
  }

  static msg::events_row message_row(int64_t pos, const std::string& room) {
    return {pos, "$m" + std::to_string(pos), room, "m.room.message", false, "", ""};
  }
  static msg::events_row member_row(int64_t pos, const std::string& room,
                                    const std::string& user, const std::string& membership) {
    return {pos, "$j" + std::to_string(pos), room, "m.room.member", true, user, membership};
  }
};

} // namespace

// ---- cases -------------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "get_atom returns the position, which only moves forward") {
  self->send(notifier, caf::get_atom_v);
  sched.run();
  CHECK(reply(self) == start);
  CHECK(published->load() == start);

  advance(14, {message_row(14, room_r)});
  self->send(notifier, caf::get_atom_v);
  sched.run();
  CHECK(reply(self) == 14);
  CHECK(published->load() == 14);

  advance(12, {}); // a late update from another writer never moves it back
  self->send(notifier, caf::get_atom_v);
  sched.run();
  CHECK(reply(self) == 14);
  CHECK(published->load() == 14);
}

TEST_CASE_FIXTURE(fixture, "a waiter wakes with the new position when its room gets a row") {
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}));
  sched.run();
  CHECK_FALSE(reply(waiter)); // nothing new yet: it waits

  advance(11, {message_row(11, room_r)});
  CHECK(reply(waiter) == 11);

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
  CHECK(reply(waiter) == 13);
}

TEST_CASE_FIXTURE(fixture, "the user's own membership wakes a waiter for a room not in its list") {
  caf::scoped_actor waiter{sys, true};
  caf::scoped_actor other{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}));
  other->send(notifier, wait(bob, start, {room_r}));
  sched.run();

  advance(11, {member_row(11, room_s, alice, "invite")});
  CHECK(reply(waiter) == 11);
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
  CHECK(reply(waiter) == 12);

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
  CHECK(reply(member) == 13);
}

TEST_CASE_FIXTURE(fixture, "a since older than the history the notifier has answers at once") {
  // Started at 10 with no history: whatever happened up to 10 is unknown.
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, 3, {room_r}));
  sched.run();
  CHECK(reply(waiter) == start);
}

TEST_CASE_FIXTURE(fixture, "a zero timeout answers at once with the unchanged position") {
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, wait(alice, start, {room_r}, 0));
  sched.run();
  CHECK(reply(waiter) == start);
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
  CHECK(reply(waiter) == 11);
  CHECK_FALSE(reply(longer));

  // After its timeout the waiter is forgotten: a row in R answers only the other.
  advance(12, {message_row(12, room_r)});
  CHECK_FALSE(reply(waiter));
  CHECK(reply(longer) == 12);

  // The other's timeout, firing later, answers nothing more.
  sched.trigger_timeouts();
  sched.run();
  CHECK_FALSE(reply(longer));
}

TEST_CASE_FIXTURE(fixture, "await_position answers once the stream reaches the position") {
  caf::scoped_actor waiter{sys, true};
  waiter->send(notifier, msg::await_position{12});
  sched.run();
  CHECK_FALSE(reply(waiter));

  advance(11, {message_row(11, room_r)});
  CHECK_FALSE(reply(waiter));

  advance(13, {message_row(12, room_r), message_row(13, room_s)});
  CHECK(reply(waiter) == 13);

  // A position already reached answers at once.
  self->send(notifier, msg::await_position{start});
  sched.run();
  CHECK(reply(self) == 13);
}

TEST_CASE_FIXTURE(fixture, "several waiters on one room all wake; others stay") {
  caf::scoped_actor a{sys, true}, b{sys, true}, c{sys, true};
  a->send(notifier, wait(alice, start, {room_r, room_s}));
  b->send(notifier, wait(bob, start, {room_r}));
  c->send(notifier, wait(bob, start, {room_s}));
  sched.run();

  advance(11, {message_row(11, room_r)});
  CHECK(reply(a) == 11);
  CHECK(reply(b) == 11);
  CHECK_FALSE(reply(c));

  advance(12, {message_row(12, room_s)});
  CHECK_FALSE(reply(a)); // already answered
  CHECK(reply(c) == 12);
}
