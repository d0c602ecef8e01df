// tests/integration/events_writer_test.cpp -- the events writer actor on a
// real database: SQLite (a temporary file) and PostgreSQL (a fresh database
// on AXON_TEST_PG). The writer is a detached actor, so these run on a normal
// actor system and wait, with bounds, on scoped actors.
#include "actors/events/events_writer.hpp"
#include "matrix/event_hash.hpp"
#include "matrix/room_version.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/federation_store.hpp"
#include "storage/stores/push_actions_store.hpp"
#include "storage/stores/receipts_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/actor_env.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <deque>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

using namespace axon;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- engines under test -----------------------------------------------------

using test::sqlite_db;
using test::pg_db;

// ---- fixture ------------------------------------------------------------------

constexpr auto reply_timeout = std::chrono::seconds(30);
const std::string server = "test";
const std::string alice = "@alice:test";
const std::string bob = "@bob:test";

/// What a request came back with.
struct outcome {
  std::optional<msg::send_events_reply> reply;
  std::optional<std::pair<errc, std::string>> error;
};

template <class DB>
struct env : test::actor_env<DB> {
  using base = test::actor_env<DB>;
  using base::pool;
  using base::publisher;
  using base::self;
  using base::sys;
  matrix::signing_key key = matrix::signing_key::generate();
  std::vector<events_writer_actor> writers;
  std::deque<msg::events_advanced> early; ///< published before a writer's start was seen

  ~env() {
    if (sys)
      for (auto& w : writers) stop(w);
  }

  /// A writer starting where the database stands, as at boot.
  events_writer_actor spawn_writer() {
    actors::events_writer_deps deps;
    deps.pool = pool.get();
    deps.server_name = server;
    deps.key = key;
    deps.instance_name = "w1";
    deps.publisher = caf::actor{*publisher};
    deps.start_pos = storage::events_store(*pool).max_stream_ordering();
    auto start = deps.start_pos;
    writers.push_back(actors::spawn_events_writer(*sys, std::move(deps)));
    // It says where it starts (readers elsewhere catch up on a restart);
    // what an earlier writer published is kept for next_published().
    bool hello = false;
    while (!hello) {
      bool got = false;
      (*publisher)->receive(
        [&](msg::events_advanced& adv) {
          got = true;
          if (adv.rows.empty() && adv.pos == start) hello = true;
          else early.push_back(std::move(adv));
        },
        caf::after(std::chrono::seconds(10)) >> [] {});
      REQUIRE(got);
    }
    return writers.back();
  }

  void stop(events_writer_actor& w) { base::stop(w); }

  outcome send(caf::scoped_actor& from, const events_writer_actor& w, msg::send_events req) {
    outcome out;
    from->request(w, reply_timeout, std::move(req))
      .receive([&](msg::send_events_reply& r) { out.reply = std::move(r); },
               [&](caf::error& err) { out.error = from_caf_error(err); });
    return out;
  }
  outcome send(const events_writer_actor& w, msg::send_events req) {
    return send(*self, w, std::move(req));
  }

  /// The next stream update the writer published, waiting at most 10 s.
  std::optional<msg::events_advanced> next_published() {
    if (!early.empty()) {
      auto adv = std::move(early.front());
      early.pop_front();
      return adv;
    }
    std::optional<msg::events_advanced> got;
    (*publisher)->receive([&](msg::events_advanced& adv) { got = std::move(adv); },
                          caf::after(std::chrono::seconds(10)) >> [] {});
    return got;
  }
  /// True when nothing is published within a short while.
  bool nothing_published() {
    if (!early.empty()) return false;
    bool none = true;
    (*publisher)->receive([&](msg::events_advanced&) { none = false; },
                          caf::after(std::chrono::milliseconds(200)) >> [] {});
    return none;
  }

  std::vector<storage::stored_event> stored(const std::string& room_id) {
    return storage::events_store(*pool).room_events(room_id, 0, INT64_MAX, 10000, false);
  }
  int64_t max_pos() { return storage::events_store(*pool).max_stream_ordering(); }
};

#define AXON_WRITER_ENV_OR_SKIP(E)                                                                 \
  env<DB> E;                                                                                       \
  if (!E.ready()) {                                                                                \
    MESSAGE(std::string(E.db.skip_reason()));                                                      \
    return;                                                                                        \
  }

// ---- drafts -------------------------------------------------------------------------

msg::event_draft draft(const std::string& sender, std::string type, json content,
                       std::optional<std::string> state_key = std::nullopt) {
  msg::event_draft d;
  d.type = std::move(type);
  d.sender = sender;
  d.content = content.dump();
  if (state_key) {
    d.is_state = true;
    d.state_key = *state_key;
  }
  return d;
}

msg::send_events new_room(const std::string& room_id, const std::string& version = "10") {
  msg::send_events req;
  req.room_id = room_id;
  req.room_version = version;
  req.new_room = true;
  json create = {{"room_version", version}};
  if (version != "11") create["creator"] = alice;
  req.drafts.push_back(draft(alice, "m.room.create", create, ""));
  req.drafts.push_back(draft(alice, "m.room.member", {{"membership", "join"}}, alice));
  req.drafts.push_back(draft(alice, "m.room.power_levels",
                             {{"users", {{alice, 100}}}, {"users_default", 0}}, ""));
  req.drafts.push_back(draft(alice, "m.room.join_rules", {{"join_rule", "invite"}}, ""));
  return req;
}

/// new_room() that anyone may join.
msg::send_events public_room(const std::string& room_id) {
  auto req = new_room(room_id);
  req.drafts[3] = draft(alice, "m.room.join_rules", {{"join_rule", "public"}}, "");
  return req;
}

msg::send_events one(const std::string& room_id, msg::event_draft d) {
  msg::send_events req;
  req.room_id = room_id;
  req.drafts.push_back(std::move(d));
  return req;
}

msg::event_draft text(const std::string& sender, const std::string& body) {
  return draft(sender, "m.room.message", {{"msgtype", "m.text"}, {"body", body}});
}

msg::event_draft with_txn(msg::event_draft d, std::string device, std::string txn) {
  d.txn_device = std::move(device);
  d.txn_id = std::move(txn);
  return d;
}

std::string describe(const outcome& o) {
  if (o.error) return std::string(to_string(o.error->first)) + ": " + o.error->second;
  return o.reply ? "ok" : "no answer";
}

/// The event as it travels between servers: without `unsigned`, and from room
/// v3 on without `event_id` (rooms v1/v2 carry it: rooms/fragments/v1-event-ids).
json pdu(json ev, const matrix::room_version& v = *matrix::find_room_version("11")) {
  if (v.format != matrix::event_format::v1) ev.erase("event_id");
  ev.erase("unsigned");
  return ev;
}

} // namespace

// ---- cases ----------------------------------------------------------------------------

TEST_CASE_TEMPLATE("writer: a new room's batch is stored in order and published", DB, sqlite_db,
                   pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!new:test";
  auto o = e.send(w, new_room(room));
  INFO(describe(o));
  REQUIRE(o.reply);
  REQUIRE(o.reply->event_ids.size() == 4);
  CHECK(o.reply->stream_pos == 4);

  auto rows = e.stored(room);
  REQUIRE(rows.size() == 4);
  const std::vector<std::string> types = {"m.room.create", "m.room.member", "m.room.power_levels",
                                          "m.room.join_rules"};
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].stream_ordering == static_cast<int64_t>(i) + 1);
    CHECK(rows[i].json.at("event_id") == o.reply->event_ids[i]);
    CHECK(rows[i].json.at("type") == types[i]);
    CHECK(rows[i].json.at("room_id") == room);
    CHECK(rows[i].json.at("sender") == alice);
  }
  CHECK(std::set<std::string>(o.reply->event_ids.begin(), o.reply->event_ids.end()).size() == 4);

  storage::rooms_store rooms(*e.pool);
  auto r = rooms.get_room(room);
  REQUIRE(r);
  CHECK(r->room_version == "10");
  CHECK(r->creator == alice);
  auto m = rooms.membership(alice, room);
  REQUIRE(m);
  CHECK(m->membership == "join");
  CHECK(m->event_id == o.reply->event_ids[1]);
  CHECK(rooms.current_state(room).size() == 4);

  // The publisher gets the rows, with the batch's last position.
  auto adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->instance == "w1");
  CHECK(adv->pos == 4);
  REQUIRE(adv->rows.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(adv->rows[i].pos == static_cast<int64_t>(i) + 1);
    CHECK(adv->rows[i].event_id == o.reply->event_ids[i]);
    CHECK(adv->rows[i].room_id == room);
    CHECK(adv->rows[i].type == types[i]);
    CHECK(adv->rows[i].is_state);
  }
  CHECK(adv->rows[1].state_key == alice);
  CHECK(adv->rows[1].membership == "join");
  CHECK(adv->rows[0].membership.empty());

  // The room exists now: a second new_room batch for it is refused.
  auto again = e.send(w, new_room(room));
  REQUIRE(again.error);
  CHECK(again.error->first == errc::room_in_use);
  CHECK(e.stored(room).size() == 4);
  CHECK(e.nothing_published());
}

TEST_CASE_TEMPLATE("writer: events are hashed, signed, chained and named by their hash", DB,
                   sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  for (std::string version : {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}) {
    CAPTURE(version);
    const std::string room = "!sig" + version + ":test";
    auto o = e.send(w, new_room(room, version));
    INFO(describe(o));
    REQUIRE(o.reply);
    for (int i = 0; i < 3; ++i) REQUIRE(e.send(w, one(room, text(alice, "hi"))).reply);
    REQUIRE(e.send(w, one(room, draft(alice, "m.room.name", {{"name", "N"}}, ""))).reply);

    const auto* rv = matrix::find_room_version(version);
    REQUIRE(rv);
    auto rows = e.stored(room);
    REQUIRE(rows.size() == 8);
    std::string create_id, pl_id, member_id;
    for (size_t i = 0; i < rows.size(); ++i) {
      const json& ev = rows[i].json;
      CAPTURE(ev.dump());
      auto id = ev.at("event_id").get<std::string>();
      const bool v1 = rv->format == matrix::event_format::v1;
      CHECK(matrix::verify_content_hash(pdu(ev, *rv)));
      CHECK(matrix::verify_event_signature(pdu(ev, *rv), server, e.key.key_id(), e.key.public_key, *rv));
      CHECK(matrix::compute_event_id(pdu(ev, *rv), *rv) == id);
      if (v1) CHECK(id.size() > 1 + 1 + server.size());
      if (v1) CHECK(id.substr(id.size() - server.size() - 1) == ":" + server);
      else CHECK(id.size() == 44);
      // Tampered content fails the content hash (the id and signature cover
      // only the redacted form); a tampered timestamp fails id (from v3) and
      // signature.
      json bad = pdu(ev, *rv);
      bad["content"]["tampered"] = true;
      CHECK_FALSE(matrix::verify_content_hash(bad));
      bad = pdu(ev, *rv);
      bad["origin_server_ts"] = bad["origin_server_ts"].get<int64_t>() + 1;
      if (!v1) CHECK(matrix::compute_event_id(bad, *rv) != id);
      CHECK_FALSE(
        matrix::verify_event_signature(bad, server, e.key.key_id(), e.key.public_key, *rv));

      // A linear chain: one prev event, the one before; depth goes up by one.
      // v1/v2 name it with its reference hash.
      auto ref = [&](const json& stored) {
        auto prev_id = stored.at("event_id").get<std::string>();
        return matrix::event_reference(prev_id, matrix::compute_reference_hash(pdu(stored, *rv), *rv),
                                       *rv);
      };
      CHECK(ev.at("depth") == static_cast<int64_t>(i) + 1);
      if (i == 0) CHECK(ev.at("prev_events") == json::array());
      else CHECK(ev.at("prev_events") == json::array({ref(rows[i - 1].json)}));
      for (auto& a : ev.at("auth_events")) {
        auto a_id = matrix::referenced_event_ids(json::array({a}));
        REQUIRE(a_id.size() == 1);
        for (auto& earlier : rows)
          if (earlier.json.at("event_id") == a_id[0]) CHECK(a == ref(earlier.json));
      }

      auto type = ev.at("type").get<std::string>();
      if (type == "m.room.create") create_id = id;
      if (type == "m.room.power_levels") pl_id = id;
      if (type == "m.room.member") member_id = id;
      if (type == "m.room.message") {
        // Auth events: create, power levels, the sender's membership.
        std::set<std::string> auth;
        for (auto& a : matrix::referenced_event_ids(ev.at("auth_events"))) auth.insert(a);
        CHECK(auth == std::set<std::string>{create_id, pl_id, member_id});
      }
    }
    CHECK(rows[0].json.at("auth_events") == json::array());
    if (version == "11") CHECK_FALSE(rows[0].json.at("content").contains("creator"));
    else CHECK(rows[0].json.at("content").at("creator") == alice);

    // The stored room as a writer reloads it.
    auto snap = storage::events_store(*e.pool).load_room(room);
    REQUIRE(snap);
    CHECK(snap->extremities == std::vector<std::string>{rows.back().json.at("event_id")});
    CHECK(snap->max_depth == 8);
  }
}

TEST_CASE_TEMPLATE("writer: a non-member's message is forbidden and stores nothing", DB,
                   sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!auth:test";
  REQUIRE(e.send(w, new_room(room)).reply);
  REQUIRE(e.next_published());
  const auto before = e.max_pos();

  auto o = e.send(w, one(room, text(bob, "let me in")));
  REQUIRE(o.error);
  CHECK(o.error->first == errc::forbidden);
  CHECK_FALSE(o.error->second.empty());
  CHECK(e.max_pos() == before);
  CHECK(e.stored(room).size() == 4);
  CHECK(e.nothing_published());

  // Unknown rooms and bad content are refused as well.
  auto unknown = e.send(w, one("!nowhere:test", text(alice, "x")));
  REQUIRE(unknown.error);
  CHECK(unknown.error->first == errc::not_found);
  auto bad = one(room, text(alice, "x"));
  bad.drafts[0].content = "[1,2]";
  auto badr = e.send(w, bad);
  REQUIRE(badr.error);
  CHECK(badr.error->first == errc::bad_json);

  // The refused events used no positions: the next one follows directly.
  auto ok = e.send(w, one(room, text(alice, "hello")));
  INFO(describe(ok));
  REQUIRE(ok.reply);
  CHECK(ok.reply->stream_pos == before + 1);
  CHECK(e.max_pos() == before + 1);
  auto adv = e.next_published();
  REQUIRE(adv);
  REQUIRE(adv->rows.size() == 1);
  CHECK(adv->rows[0].event_id == ok.reply->event_ids[0]);
}

TEST_CASE_TEMPLATE("writer: a request that fails midway stores nothing of it", DB, sqlite_db,
                   pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!mid:test";
  REQUIRE(e.send(w, new_room(room)).reply);
  const auto before = e.max_pos();

  // An existing room: the first draft is fine, the second is not.
  msg::send_events req;
  req.room_id = room;
  req.drafts = {text(alice, "first"), draft(alice, "m.room.name", {{"name", "ok"}}, ""),
                text(bob, "not a member")};
  auto o = e.send(w, req);
  REQUIRE(o.error);
  CHECK(o.error->first == errc::forbidden);
  CHECK(e.max_pos() == before);
  CHECK(e.stored(room).size() == 4);
  CHECK_FALSE(storage::rooms_store(*e.pool).current_state_event(room, "m.room.name", ""));

  // A new room whose last draft fails: the room is not created at all...
  const std::string room2 = "!mid2:test";
  auto nr = new_room(room2);
  nr.drafts.push_back(text(bob, "not a member"));
  auto o2 = e.send(w, nr);
  REQUIRE(o2.error);
  CHECK(o2.error->first == errc::forbidden);
  CHECK_FALSE(storage::rooms_store(*e.pool).get_room(room2));
  CHECK(e.stored(room2).empty());
  CHECK(e.max_pos() == before);

  // ...and can be created afterwards; the writer's view of the first room
  // kept nothing of the failed request either.
  auto o3 = e.send(w, new_room(room2));
  INFO(describe(o3));
  REQUIRE(o3.reply);
  CHECK(o3.reply->stream_pos == before + 4);
  auto o4 = e.send(w, one(room, text(alice, "after")));
  REQUIRE(o4.reply);
  auto rows = e.stored(room);
  REQUIRE(rows.size() == 5);
  CHECK(rows[4].json.at("prev_events") == json::array({rows[3].json.at("event_id")}));
  CHECK(rows[4].json.at("depth") == 5);
}

TEST_CASE_TEMPLATE("writer: a database failure fails the whole batch, then it recovers", DB,
                   sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!dbfail:test";
  REQUIRE(e.send(w, new_room(room)).reply);
  REQUIRE(e.next_published());
  const auto before = e.max_pos();

  // Someone else took the position the batch's second event will get.
  e.pool->acquire()->exec(
    "INSERT INTO events (stream_ordering, event_id, room_id, type, sender, depth, "
    "origin_server_ts, instance_name, json) VALUES ($1, '$squatter', '!other:test', 'x', "
    "'@x:test', 1, 0, 'other', '{}')",
    {before + 2});
  msg::send_events req;
  req.room_id = room;
  req.drafts = {text(alice, "one"), text(alice, "two"), text(alice, "three")};
  auto o = e.send(w, req);
  REQUIRE(o.error);
  CHECK(o.error->first == errc::unknown);
  CHECK(e.stored(room).size() == 4); // not even the first
  CHECK(e.nothing_published());

  // The writer reloads the room from the database and goes on.
  auto ok = e.send(w, one(room, text(alice, "again")));
  INFO(describe(ok));
  REQUIRE(ok.reply);
  CHECK(ok.reply->stream_pos > before + 2);
  auto rows = e.stored(room);
  REQUIRE(rows.size() == 5);
  CHECK(rows[4].json.at("prev_events") == json::array({rows[3].json.at("event_id")}));
  CHECK(rows[4].json.at("content").at("body") == "again");
}

TEST_CASE_TEMPLATE("writer: a repeated transaction id gives the same event, stored once", DB,
                   sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!txn:test";
  REQUIRE(e.send(w, new_room(room)).reply);

  auto first = e.send(w, one(room, with_txn(text(alice, "once"), "DEV", "t1")));
  INFO(describe(first));
  REQUIRE(first.reply);
  REQUIRE(first.reply->event_ids.size() == 1);
  const auto id = first.reply->event_ids[0];
  auto second = e.send(w, one(room, with_txn(text(alice, "once"), "DEV", "t1")));
  REQUIRE(second.reply);
  CHECK(second.reply->event_ids == std::vector<std::string>{id});
  CHECK(second.reply->stream_pos >= first.reply->stream_pos);
  CHECK(e.stored(room).size() == 5);

  // Another device, transaction id or user is another event.
  auto other_dev = e.send(w, one(room, with_txn(text(alice, "once"), "DEV2", "t1")));
  auto other_txn = e.send(w, one(room, with_txn(text(alice, "once"), "DEV", "t2")));
  REQUIRE(other_dev.reply);
  REQUIRE(other_txn.reply);
  CHECK(other_dev.reply->event_ids[0] != id);
  CHECK(other_txn.reply->event_ids[0] != id);
  CHECK(e.stored(room).size() == 7);

  // Two copies in flight at once (one batch) still make one event.
  auto h1 = (*e.self)->request(w, reply_timeout,
                               one(room, with_txn(text(alice, "pair"), "DEV", "t3")));
  auto pair2 = e.send(w, one(room, with_txn(text(alice, "pair"), "DEV", "t3")));
  REQUIRE(pair2.reply);
  std::optional<msg::send_events_reply> pair1;
  h1.receive([&](msg::send_events_reply& r) { pair1 = r; }, [](caf::error&) {});
  REQUIRE(pair1);
  CHECK(pair1->event_ids == pair2.reply->event_ids);
  CHECK(e.stored(room).size() == 8);

  // And after a restart the writer still knows it, from the database.
  e.stop(w);
  auto w2 = e.spawn_writer();
  auto third = e.send(w2, one(room, with_txn(text(alice, "once"), "DEV", "t1")));
  INFO(describe(third));
  REQUIRE(third.reply);
  CHECK(third.reply->event_ids == std::vector<std::string>{id});
  CHECK(e.stored(room).size() == 8);
  CHECK(storage::events_store(*e.pool).find_txn(alice, "DEV", room, "t1") == id);
}

TEST_CASE_TEMPLATE("writer: redactions and replaced state", DB, sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!redact:test";
  REQUIRE(e.send(w, new_room(room)).reply);
  storage::events_store es(*e.pool);

  // A second m.room.name says what it replaced, outside the signed part.
  auto n1 = e.send(w, one(room, draft(alice, "m.room.name", {{"name", "One"}}, "")));
  auto n2 = e.send(w, one(room, draft(alice, "m.room.name", {{"name", "Two"}}, "")));
  REQUIRE(n1.reply);
  REQUIRE(n2.reply);
  auto second = es.get_event(n2.reply->event_ids[0]);
  REQUIRE(second);
  CHECK(second->json.at("unsigned").at("replaces_state") == n1.reply->event_ids[0]);
  CHECK(second->json.at("unsigned").at("prev_content") == json{{"name", "One"}});
  CHECK(storage::rooms_store(*e.pool).current_state_event(room, "m.room.name", "")->at(
          "event_id") == n2.reply->event_ids[0]);

  auto msg = e.send(w, one(room, text(alice, "secret")));
  REQUIRE(msg.reply);
  const auto target = msg.reply->event_ids[0];
  auto red = draft(alice, "m.room.redaction", json::object());
  red.redacts = target;
  auto r = e.send(w, one(room, red));
  INFO(describe(r));
  REQUIRE(r.reply);
  auto redacted = es.get_event(target);
  REQUIRE(redacted);
  CHECK(redacted->json.at("content") == json::object());
  CHECK(redacted->json.at("unsigned").at("redacted_because").at("event_id") ==
        r.reply->event_ids[0]);
  auto redaction = es.get_event(r.reply->event_ids[0]);
  REQUIRE(redaction);
  CHECK(redaction->json.at("redacts") == target); // v10: top level
  CHECK(matrix::verify_content_hash(pdu(redaction->json)));

  // Redacting something that is not in the room is refused.
  auto missing = draft(alice, "m.room.redaction", json::object());
  missing.redacts = "$nope";
  auto m = e.send(w, one(room, missing));
  REQUIRE(m.error);
  CHECK(m.error->first == errc::not_found);
}

TEST_CASE_TEMPLATE("writer: a restarted writer continues the room where it was", DB, sqlite_db,
                   pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!restart:test";
  REQUIRE(e.send(w, new_room(room)).reply);
  REQUIRE(e.send(w, one(room, text(alice, "before"))).reply);
  e.stop(w);

  auto w2 = e.spawn_writer();
  auto o = e.send(w2, one(room, text(alice, "after")));
  INFO(describe(o));
  REQUIRE(o.reply);
  CHECK(o.reply->stream_pos == 6);
  auto rows = e.stored(room);
  REQUIRE(rows.size() == 6);
  CHECK(rows[5].json.at("prev_events") == json::array({rows[4].json.at("event_id")}));
  CHECK(rows[5].json.at("depth") == 6);
  // Authorised against the reloaded state: bob is still not a member.
  auto refused = e.send(w2, one(room, text(bob, "x")));
  REQUIRE(refused.error);
  CHECK(refused.error->first == errc::forbidden);
}

TEST_CASE_TEMPLATE("writer: a restarted writer names v1 prev_events by their reference hash", DB,
                   sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  const auto& v1 = *matrix::find_room_version("1");
  auto w = e.spawn_writer();
  const std::string room = "!restartv1:test";
  REQUIRE(e.send(w, new_room(room, "1")).reply);
  auto msg = e.send(w, one(room, text(alice, "before")));
  REQUIRE(msg.reply);
  // The extremity is redacted before the restart: its hash does not change.
  auto red = draft(alice, "m.room.redaction", json::object());
  red.redacts = msg.reply->event_ids[0];
  REQUIRE(e.send(w, one(room, red)).reply);
  auto red2 = draft(alice, "m.room.redaction", json::object());
  red2.redacts = e.stored(room).back().json.at("event_id");
  REQUIRE(e.send(w, one(room, red2)).reply);
  e.stop(w);

  auto w2 = e.spawn_writer();
  auto o = e.send(w2, one(room, text(alice, "after")));
  INFO(describe(o));
  REQUIRE(o.reply);
  auto rows = e.stored(room);
  REQUIRE(rows.size() == 8);
  json before = rows[6].json;  // the redacted redaction
  CHECK(before.at("content") == json::object());
  auto hash = matrix::compute_reference_hash(pdu(before, v1), v1);
  CHECK(rows[7].json.at("prev_events") ==
        json::array({json::array({before.at("event_id"), {{"sha256", hash}}})}));
  CHECK(matrix::verify_event_signature(pdu(rows[7].json, v1), server, e.key.key_id(),
                                       e.key.public_key, v1));
}

TEST_CASE_TEMPLATE("writer: state with the sender and content it has is not sent again", DB,
                   sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!dedup:test";
  REQUIRE(e.send(w, new_room(room)).reply);
  REQUIRE(e.next_published());
  auto first = e.send(w, one(room, draft(alice, "m.room.name", {{"name", "N"}}, "")));
  REQUIRE(first.reply);
  REQUIRE(e.next_published());
  const auto pos = e.max_pos();

  auto again = e.send(w, one(room, draft(alice, "m.room.name", {{"name", "N"}}, "")));
  REQUIRE(again.reply);
  CHECK(again.reply->event_ids == first.reply->event_ids);
  CHECK(again.reply->stream_pos == pos);
  CHECK(e.max_pos() == pos);
  CHECK(e.stored(room).size() == 5);
  CHECK(e.nothing_published());
  // So is a membership that is already so (Synapse's update_membership).
  auto join = e.send(w, one(room, draft(alice, "m.room.member", {{"membership", "join"}}, alice)));
  REQUIRE(join.reply);
  CHECK(join.reply->event_ids[0] == e.stored(room)[1].json.at("event_id"));
  CHECK(e.stored(room).size() == 5);

  // Other content makes a new event.
  auto other = e.send(w, one(room, draft(alice, "m.room.name", {{"name", "M"}}, "")));
  REQUIRE(other.reply);
  CHECK(other.reply->event_ids != first.reply->event_ids);
  CHECK(e.stored(room).size() == 6);
}

TEST_CASE_TEMPLATE("writer: push actions are stored with each event; unread counts follow receipts",
                   DB, sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!push:test";
  const std::string carol = "@carol:elsewhere";
  REQUIRE(e.send(w, public_room(room)).reply);
  REQUIRE(e.send(w, one(room, draft(bob, "m.room.member",
                                    {{"membership", "join"}, {"displayname", "Bobby"}}, bob)))
            .reply);
  // Remote users are not evaluated; they only change the member count.
  REQUIRE(e.send(w, one(room, draft(carol, "m.room.member", {{"membership", "join"}}, carol)))
            .reply);
  auto plain = e.send(w, one(room, text(alice, "hello")));
  auto named = e.send(w, one(room, text(alice, "hi Bobby!")));
  json thread_content = {{"msgtype", "m.text"},
                         {"body", "threaded"},
                         {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", "$root"}}}};
  auto threaded = e.send(w, one(room, draft(alice, "m.room.message", thread_content)));
  REQUIRE(plain.reply);
  REQUIRE(named.reply);
  REQUIRE(threaded.reply);

  storage::push_actions_store store(*e.pool);
  auto notes = store.notifications(bob, 0, 100, false);
  REQUIRE(notes.size() == 3);
  CHECK(notes[0].event_id == threaded.reply->event_ids[0]);
  CHECK(notes[0].thread_id == "$root");
  CHECK(notes[1].event_id == named.reply->event_ids[0]);
  CHECK(notes[1].highlight); // .m.rule.contains_display_name
  CHECK(json::parse(notes[1].actions).size() == 3);
  CHECK_FALSE(notes[2].highlight);
  CHECK(notes[2].thread_id == "main");
  // The sender never gets actions for their own events.
  CHECK(store.notifications(alice, 0, 100, false).empty());
  CHECK(store.notifications(bob, 0, 100, true).size() == 1);
  CHECK(store.notifications(bob, notes[1].stream_ordering, 100, false).size() == 1);

  auto to = e.max_pos();
  auto unread = store.unread(bob, room, to);
  CHECK(unread["main"].notifications == 2);
  CHECK(unread["main"].highlights == 1);
  CHECK(unread["$root"].notifications == 1);
  CHECK(store.unread(bob, room, notes[2].stream_ordering)["main"].notifications == 1);

  storage::receipts_store receipts(*e.pool);
  auto rpos = receipts.max_stream_id();
  REQUIRE(receipts.put({room, "m.read", bob, "", plain.reply->event_ids[0], "{}", rpos + 1}));
  unread = store.unread(bob, room, to);
  CHECK(unread["main"].notifications == 1);
  CHECK(unread["$root"].notifications == 1);
  // A thread's receipt reads that thread only; older receipts change nothing.
  REQUIRE(receipts.put({room, "m.read", bob, "$root", threaded.reply->event_ids[0], "{}", rpos + 2}));
  unread = store.unread(bob, room, to);
  CHECK(unread.count("$root") == 0);
  CHECK(unread["main"].notifications == 1);
  CHECK_FALSE(receipts.put({room, "m.read", bob, "", plain.reply->event_ids[0], "{}", rpos + 3}));
  CHECK(store.read_up_to(bob, room, "main") == notes[2].stream_ordering);
  CHECK(store.read_up_to(bob, room, "$root") == notes[0].stream_ordering);
  REQUIRE(receipts.put({room, "m.read.private", bob, "", named.reply->event_ids[0], "{}", rpos + 3}));
  CHECK(store.unread(bob, room, to).empty());
}

TEST_CASE_TEMPLATE("writer: an update says whether it queued PDUs for other servers", DB, sqlite_db,
                   pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!fed:test";
  REQUIRE(e.send(w, public_room(room)).reply);
  auto adv = e.next_published();
  REQUIRE(adv);
  CHECK_FALSE(adv->pdus_queued);
  // Only this server's users: the federation sender has nothing to look at.
  REQUIRE(e.send(w, one(room, text(alice, "local"))).reply);
  adv = e.next_published();
  REQUIRE(adv);
  REQUIRE(adv->rows.size() == 1);
  CHECK_FALSE(adv->pdus_queued);
  storage::federation_store fed(*e.pool);
  CHECK(fed.destinations_with_pdus_after(0).first.empty());
  // A user of another server joins: from then on its server is sent each event.
  const std::string carol = "@carol:elsewhere";
  REQUIRE(e.send(w, one(room, draft(carol, "m.room.member", {{"membership", "join"}}, carol))).reply);
  adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->pdus_queued);
  REQUIRE(e.send(w, one(room, text(alice, "to both"))).reply);
  adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->pdus_queued);
  CHECK(fed.destinations_with_pdus_after(0).first == std::vector<std::string>{"elsewhere"});
}

TEST_CASE_TEMPLATE("writer: many unread notifications are counted from a summary, as exactly", DB, sqlite_db,
                   pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  const std::string room = "!many:test";
  REQUIRE(e.send(w, public_room(room)).reply);
  REQUIRE(e.send(w, one(room, draft(bob, "m.room.member", {{"membership", "join"}}, bob))).reply);
  json in_thread = {{"msgtype", "m.text"},
                    {"body", "threaded"},
                    {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", "$root"}}}};
  // 150 in the main timeline, 60 in a thread, in batches of 30.
  std::vector<std::string> ids;
  for (int batch = 0; batch < 7; ++batch) {
    msg::send_events req;
    req.room_id = room;
    for (int i = 0; i < 30; ++i)
      req.drafts.push_back(batch < 5 ? text(alice, "m" + std::to_string(batch * 30 + i))
                                     : draft(alice, "m.room.message", in_thread));
    auto r = e.send(w, req);
    REQUIRE(r.reply);
    for (auto& id : r.reply->event_ids) ids.push_back(id);
  }
  storage::push_actions_store store(*e.pool);
  storage::events_store events(*e.pool);
  auto summaries = [&] {
    return e.pool->acquire()->exec("SELECT upto FROM event_push_summary WHERE user_id = $1", {bob}).rows;
  };
  auto pos_of = [&](const std::string& id) { return events.dag_events({id}).at(id).stream_ordering; };
  auto mid = pos_of(ids[99]);

  // An older position first: counted whole, and kept as the summary.
  auto at_mid = store.unread(bob, room, mid);
  CHECK(at_mid["main"].notifications == 100);
  CHECK(at_mid.count("$root") == 0);
  REQUIRE(summaries().size() == 1);
  CHECK(summaries()[0].i64(0) == mid);
  // Later: the summary and the 110 after it.
  auto to = e.max_pos();
  auto now = store.unread(bob, room, to);
  CHECK(now["main"].notifications == 150);
  CHECK(now["$root"].notifications == 60);
  CHECK(summaries()[0].i64(0) == to);
  // Positions before the summary's are counted whole again.
  CHECK(store.unread(bob, room, mid)["main"].notifications == 100);
  // A few more: summary plus those.
  REQUIRE(e.send(w, one(room, text(alice, "one more"))).reply);
  CHECK(store.unread(bob, room, e.max_pos())["main"].notifications == 151);

  // Receipts: the summary no longer counts, the counts follow them.
  storage::receipts_store receipts(*e.pool);
  auto rpos = receipts.max_stream_id();
  REQUIRE(receipts.put({room, "m.read", bob, "", ids[99], "{}", rpos + 1}));
  now = store.unread(bob, room, e.max_pos());
  CHECK(now["main"].notifications == 51);
  CHECK(now["$root"].notifications == 60);
  REQUIRE(receipts.put({room, "m.read", bob, "$root", ids[179], "{}", rpos + 2}));
  now = store.unread(bob, room, e.max_pos());
  CHECK(now["main"].notifications == 51);
  CHECK(now["$root"].notifications == 30);
  // A private receipt for the last event reads everything.
  REQUIRE(receipts.put({room, "m.read.private", bob, "", ids.back(), "{}", rpos + 3}));
  now = store.unread(bob, room, e.max_pos());
  CHECK(now["main"].notifications == 1); // "one more" came after it
  CHECK(now.count("$root") == 0);
}

TEST_CASE_TEMPLATE("writer: 200 concurrent requests over several rooms", DB, sqlite_db, pg_db) {
  AXON_WRITER_ENV_OR_SKIP(e);
  auto w = e.spawn_writer();
  constexpr int rooms = 4, threads = 4, per_thread = 50;
  std::vector<std::string> room_ids;
  for (int r = 0; r < rooms; ++r) {
    room_ids.push_back("!load" + std::to_string(r) + ":test");
    REQUIRE(e.send(w, new_room(room_ids.back())).reply);
  }
  const auto base = e.max_pos();
  // Drain the room creations' updates.
  for (int r = 0; r < rooms; ++r) REQUIRE(e.next_published());

  // Each thread puts all its requests in flight at once, then collects them.
  std::vector<std::vector<int64_t>> positions(threads);
  std::vector<std::vector<std::string>> ids(threads);
  std::vector<std::string> failures(threads);
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      caf::scoped_actor self{*e.sys};
      std::vector<decltype(self->request(w, reply_timeout, msg::send_events{}))> pending;
      for (int i = 0; i < per_thread; ++i) {
        auto room = room_ids[(t + i) % rooms];
        auto body = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto d = i % 2 ? with_txn(text(alice, body), "DEV" + std::to_string(t), body)
                       : text(alice, body);
        pending.push_back(self->request(w, reply_timeout, one(room, d)));
      }
      for (auto& h : pending)
        h.receive(
          [&](msg::send_events_reply& r) {
            positions[t].push_back(r.stream_pos);
            ids[t].push_back(r.event_ids.at(0));
          },
          [&](caf::error& err) { failures[t] = to_string(from_caf_error(err).first); });
    });
  }
  for (auto& th : senders) th.join();

  std::set<int64_t> all_pos;
  std::set<std::string> all_ids;
  for (int t = 0; t < threads; ++t) {
    CAPTURE(t);
    CHECK(failures[t].empty());
    REQUIRE(positions[t].size() == per_thread);
    // One sender's requests are handled in the order it sent them.
    CHECK(std::is_sorted(positions[t].begin(), positions[t].end()));
    CHECK(std::adjacent_find(positions[t].begin(), positions[t].end()) == positions[t].end());
    all_pos.insert(positions[t].begin(), positions[t].end());
    all_ids.insert(ids[t].begin(), ids[t].end());
  }
  const int total = threads * per_thread;
  CHECK(all_pos.size() == static_cast<size_t>(total));
  CHECK(all_ids.size() == static_cast<size_t>(total));
  CHECK(*all_pos.begin() == base + 1);
  CHECK(*all_pos.rbegin() == base + total);
  CHECK(e.max_pos() == base + total);

  // Each room is still one linear chain.
  for (auto& room : room_ids) {
    auto rows = e.stored(room);
    CHECK(rows.size() == 4 + total / rooms);
    for (size_t i = 1; i < rows.size(); ++i) {
      CHECK(rows[i].json.at("depth") == static_cast<int64_t>(i) + 1);
      CHECK(rows[i].json.at("prev_events") == json::array({rows[i - 1].json.at("event_id")}));
    }
  }

  // The publisher saw every row exactly once, in increasing positions.
  std::set<int64_t> published;
  int64_t last_pos = base;
  while (published.size() < static_cast<size_t>(total)) {
    auto adv = e.next_published();
    REQUIRE(adv);
    CHECK(adv->pos > last_pos);
    last_pos = adv->pos;
    for (auto& row : adv->rows) {
      CHECK(published.insert(row.pos).second);
      CHECK(row.pos <= adv->pos);
      CHECK(all_ids.count(row.event_id) == 1);
    }
  }
  CHECK(published == all_pos);
  CHECK(e.nothing_published());
}
