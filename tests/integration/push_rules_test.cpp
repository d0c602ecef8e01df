// tests/integration/push_rules_test.cpp -- the push_rules store and writer on
// a real database: SQLite (a temporary file) and PostgreSQL (a fresh database
// on AXON_TEST_PG).
#include "actors/streams/push_rules_writer.hpp"
#include "storage/stores/push_rules_store.hpp"
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

template <class DB>
struct env : test::actor_env<DB> {
  using base = test::actor_env<DB>;
  using base::pool;
  using base::self;
  using base::sys;
  std::unique_ptr<storage::push_rules_store> store;
  push_rules_writer_actor writer;

  env() {
    if (!this->ready()) return;
    store = std::make_unique<storage::push_rules_store>(*pool);
  }

  ~env() {
    if (sys) stop();
  }

  /// A writer starting where the database stands, as at boot.
  void start() {
    writer = actors::spawn_push_rules_writer(*sys, this->writer_deps(), store->max_stream_id());
  }

  void stop() { base::stop(writer); }

  /// The writer's reply: a position, or the error's code.
  std::variant<int64_t, errc> ask(const msg::change_push_rule& req) {
    std::variant<int64_t, errc> out = errc::timeout;
    (*self)
      ->request(writer, reply_timeout, req)
      .receive([&](int64_t pos) { out = pos; },
               [&](caf::error& err) { out = from_caf_error(err).first; });
    return out;
  }

  /// The merged global ruleset of `user` as stored.
  json global(const std::string& user) {
    return matrix::merge_push_rules(user, store->get(user))["global"];
  }
};

#define AXON_PUSH_RULES_ENV_OR_SKIP(E)                                                             \
  env<DB> E;                                                                                       \
  if (!E.ready()) {                                                                                \
    MESSAGE(std::string(E.db.skip_reason()));                                                      \
    return;                                                                                        \
  }

msg::change_push_rule put(const std::string& kind, const std::string& id, json body,
                          std::string before = "", std::string after = "") {
  msg::change_push_rule c;
  c.user_id = alice;
  c.op = msg::change_push_rule::put;
  c.kind = kind;
  c.rule_id = id;
  c.body = body.dump();
  c.before = std::move(before);
  c.after = std::move(after);
  return c;
}

msg::change_push_rule op(uint8_t o, const std::string& kind, const std::string& id) {
  msg::change_push_rule c;
  c.user_id = alice;
  c.op = o;
  c.kind = kind;
  c.rule_id = id;
  return c;
}

std::vector<std::string> ids(const json& list) {
  std::vector<std::string> out;
  for (auto& r : list) out.push_back(r["rule_id"].get<std::string>());
  return out;
}

json content_rule(const std::string& pattern) {
  return {{"pattern", pattern}, {"actions", json::array({"notify"})}};
}

} // namespace

// ---- store ------------------------------------------------------------------------

TEST_CASE_TEMPLATE("push_rules store: documents round-trip per user", DB, sqlite_db, pg_db) {
  AXON_PUSH_RULES_ENV_OR_SKIP(e);
  auto& s = *e.store;
  CHECK(s.max_stream_id() == 0);
  CHECK_FALSE(s.stream_id_of(alice));
  CHECK(s.get(alice).content.empty());

  matrix::user_push_rules r;
  matrix::push_rule c;
  c.rule_id = "cats";
  c.pattern = "cat*";
  c.actions = json::array({"notify", {{"set_tweak", "sound"}, {"value", "default"}}});
  r.content.push_back(c);
  matrix::push_rule o;
  o.rule_id = "quiet";
  o.enabled = false;
  o.conditions = json::array({{{"kind", "event_match"}, {"key", "type"}, {"pattern", "m.x"}}});
  r.override_rules.push_back(o);
  r.default_enabled[".m.rule.master"] = true;
  r.default_actions[".m.rule.message"] = json::array();
  s.put(alice, r, 3);
  CHECK(s.max_stream_id() == 3);
  CHECK(s.stream_id_of(alice) == 3);
  CHECK_FALSE(s.stream_id_of(bob));

  auto back = s.get(alice);
  CHECK(storage::push_rules_to_json(back) == storage::push_rules_to_json(r));
  REQUIRE(back.content.size() == 1);
  CHECK(back.content[0].pattern == "cat*");
  REQUIRE(back.override_rules.size() == 1);
  CHECK_FALSE(back.override_rules[0].enabled);
  CHECK(back.default_enabled.at(".m.rule.master"));

  // Replaced wholesale, at the new position.
  s.put(alice, {}, 5);
  CHECK(s.stream_id_of(alice) == 5);
  CHECK(s.get(alice).content.empty());
  CHECK(s.max_stream_id() == 5);
}

// ---- writer -----------------------------------------------------------------------

TEST_CASE_TEMPLATE("push_rules writer: changes, ordering, errors, positions", DB, sqlite_db,
                   pg_db) {
  AXON_PUSH_RULES_ENV_OR_SKIP(e);
  e.start();

  CHECK(std::get<int64_t>(e.ask(put("content", "a", content_rule("a")))) == 1);
  auto adv = e.next_published();
  REQUIRE(adv);
  CHECK(adv->stream == static_cast<uint8_t>(stream_id::push_rules));
  CHECK(adv->instance == "w1");
  CHECK(adv->pos == 1);
  REQUIRE(adv->rows.size() == 1);
  CHECK(adv->rows[0].user_ids == std::vector<std::string>{alice});

  // No before/after: highest priority; with them: placed relative to a user rule.
  CHECK(std::get<int64_t>(e.ask(put("content", "b", content_rule("b")))) == 2);
  CHECK(std::get<int64_t>(e.ask(put("content", "c", content_rule("c"), "", "a"))) == 3);
  CHECK(std::get<int64_t>(e.ask(put("content", "d", content_rule("d"), "b"))) == 4);
  for (int i = 0; i < 3; ++i) e.next_published();
  auto content = ids(e.global(alice)["content"]);
  REQUIRE(content.size() >= 4);
  CHECK(std::vector<std::string>(content.begin(), content.begin() + 4) ==
        std::vector<std::string>{"d", "b", "a", "c"});

  auto enable = op(msg::change_push_rule::set_enabled, "override", ".m.rule.master");
  enable.enabled = true;
  CHECK(std::get<int64_t>(e.ask(enable)) == 5);
  e.next_published();
  CHECK(e.global(alice)["override"][0]["enabled"] == true);

  auto actions = op(msg::change_push_rule::set_actions, "content", "a");
  actions.body = json::array({"notify", {{"set_tweak", "highlight"}}}).dump();
  CHECK(std::get<int64_t>(e.ask(actions)) == 6);
  e.next_published();

  auto before = storage::push_rules_to_json(e.store->get(alice));
  // Errors: nothing stored, nothing published, the position unchanged.
  CHECK(std::get<errc>(e.ask(op(msg::change_push_rule::remove, "content", "nope"))) ==
        errc::not_found);
  CHECK(std::get<errc>(e.ask(op(msg::change_push_rule::set_enabled, "room", "nope"))) ==
        errc::not_found);
  CHECK(std::get<errc>(e.ask(put("content", ".m.mine", content_rule("x")))) ==
        errc::invalid_param);
  CHECK(std::get<errc>(e.ask(put("content", "x", {{"actions", json::array({"notify"})}}))) ==
        errc::missing_param);
  CHECK(std::get<errc>(e.ask(put("content", "x", content_rule("x"), "missing"))) ==
        errc::not_found);
  CHECK(std::get<errc>(e.ask(put("bogus", "x", content_rule("x")))) == errc::invalid_param);
  auto bad = op(msg::change_push_rule::set_actions, "content", "a");
  bad.body = json::array({"explode"}).dump();
  CHECK(std::get<errc>(e.ask(bad)) == errc::invalid_param);
  CHECK(e.nothing_published());
  CHECK(storage::push_rules_to_json(e.store->get(alice)) == before);
  CHECK(e.store->max_stream_id() == 6);

  CHECK(std::get<int64_t>(e.ask(op(msg::change_push_rule::remove, "content", "b"))) == 7);
  e.next_published();

  // A restarted writer continues after the stored position.
  e.stop();
  e.start();
  CHECK(std::get<int64_t>(e.ask(op(msg::change_push_rule::remove, "content", "d"))) == 8);
  auto left = ids(e.global(alice)["content"]);
  CHECK(std::vector<std::string>(left.begin(), left.begin() + 2) ==
        std::vector<std::string>{"a", "c"});
  CHECK(e.global(alice)["content"][0]["actions"] ==
        json::array({"notify", {{"set_tweak", "highlight"}}}));
  // Bob's rules are untouched defaults.
  CHECK(e.global(bob)["override"][0]["enabled"] == false);
}
