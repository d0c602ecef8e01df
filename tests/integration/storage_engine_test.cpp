// tests/integration/storage_engine_test.cpp -- the same cases on SQLite (a
// temporary file) and PostgreSQL (a fresh database on AXON_TEST_PG).
#include "storage/database.hpp"
#include "storage/sqlite/sqlite_engine.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "tests/integration/test_databases.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

using namespace axon::storage;
namespace fs = std::filesystem;

namespace {

// ---- engines under test -----------------------------------------------------

/// A database file in a fresh temporary directory, removed afterwards.
using axon::test::sqlite_db;
using axon::test::pg_db;

#define AXON_ENGINE_OR_SKIP(db)                                                                    \
  DB db;                                                                                           \
  if (!db.ready()) {                                                                               \
    MESSAGE(std::string(db.skip_reason()));                                                        \
    return;                                                                                        \
  }

// ---- helpers ----------------------------------------------------------------

sql_value i64(int64_t v) { return v; }
sql_value text(std::string v) { return v; }

int64_t count(connection& c, const std::string& table) {
  return c.exec("SELECT COUNT(*) FROM " + table).rows.at(0).i64(0);
}

} // namespace

// ---- cases ------------------------------------------------------------------

TEST_CASE_TEMPLATE("exec binds parameters and reports changed rows", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  c->exec_script("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, note TEXT);"
                 "CREATE INDEX t_name ON t (name)");
  const std::string insert = "INSERT INTO t (id, name, note) VALUES ($1, $2, $3)";
  CHECK(c->exec(insert, {i64(1), text("alice"), nullptr}).affected == 1);
  CHECK(c->exec(insert, {i64(2), text("bob"), text("hi")}).affected == 1); // cached statement

  auto r = c->exec("SELECT id, name, note FROM t WHERE name = $1", {text("bob")});
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].size() == 3);
  CHECK(r.rows[0].i64(0) == 2);
  CHECK(r.rows[0].str(1) == "bob");
  CHECK(r.rows[0].str(2) == "hi");
  CHECK(r.affected == 0);

  // Out of order and repeated placeholders.
  r = c->exec("SELECT name FROM t WHERE id = $2 OR name = $1 OR name = $1 ORDER BY id",
              {text("alice"), i64(2)});
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].str(0) == "alice");
  CHECK(r.rows[1].str(0) == "bob");

  CHECK(c->exec("UPDATE t SET note = $1 WHERE id >= $2", {text("x"), i64(1)}).affected == 2);
  CHECK(c->exec("DELETE FROM t WHERE id = $1", {i64(99)}).affected == 0);
  CHECK(c->exec("SELECT COUNT(*) FROM t").affected == 0); // a later SELECT changes nothing
  CHECK(c->exec("DELETE FROM t WHERE id = $1", {i64(2)}).affected == 1);
  CHECK(c->exec("CREATE TABLE t2 (x INTEGER)").affected == 0);

  CHECK_THROWS_AS(c->exec("SELECT name FROM t WHERE id = $1", {}), db_error);
  CHECK_THROWS_AS(c->exec("SELECT 1; SELECT 2"), db_error); // one statement per exec
  CHECK_THROWS_AS(c->exec("SELEKT 1"), db_error);
  CHECK(c->exec("SELECT name FROM t").rows.size() == 1); // still usable after errors
}

TEST_CASE_TEMPLATE("NULL and empty text are distinct", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  c->exec_script("CREATE TABLE n (id INTEGER PRIMARY KEY, s TEXT, v BIGINT)");
  c->exec("INSERT INTO n (id, s, v) VALUES ($1, $2, $3)", {i64(1), nullptr, nullptr});
  c->exec("INSERT INTO n (id, s, v) VALUES ($1, $2, $3)", {i64(2), text(""), i64(0)});

  auto r = c->exec("SELECT s, v FROM n ORDER BY id");
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].is_null(0));
  CHECK(r.rows[0].is_null(1));
  CHECK_THROWS_AS(r.rows[0].str(0), db_error);
  CHECK_THROWS_AS(r.rows[0].i64(1), db_error);
  CHECK(r.rows[0].str_or(0, "dflt") == "dflt");
  CHECK(r.rows[0].i64_or(1, -5) == -5);
  CHECK_FALSE(r.rows[1].is_null(0));
  CHECK(r.rows[1].str(0).empty());
  CHECK(r.rows[1].i64_or(1, -5) == 0);
  CHECK_THROWS_AS(r.rows[1].i64(0), db_error); // "" is not a number
  CHECK(c->exec("SELECT id FROM n WHERE s IS NULL").rows.at(0).i64(0) == 1);
  CHECK(c->exec("SELECT COUNT(*) FROM n WHERE s = $1", {text("")}).rows.at(0).i64(0) == 1);
  CHECK(c->exec("SELECT MAX(v) FROM n WHERE id > $1", {i64(5)}).rows.at(0).is_null(0));
}

TEST_CASE_TEMPLATE("int64 extremes round-trip", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  c->exec_script("CREATE TABLE big (v BIGINT NOT NULL)");
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max();
  for (int64_t v : {lo, lo + 1, int64_t{-1}, int64_t{0}, int64_t{1}, hi - 1, hi})
    c->exec("INSERT INTO big (v) VALUES ($1)", {v});
  auto r = c->exec("SELECT v FROM big ORDER BY v");
  REQUIRE(r.rows.size() == 7);
  CHECK(r.rows[0].i64(0) == lo);
  CHECK(r.rows[0].str(0) == "-9223372036854775808");
  CHECK(r.rows[2].i64(0) == -1);
  CHECK(r.rows[6].i64(0) == hi);
  CHECK(r.rows[6].str(0) == "9223372036854775807");
  CHECK(c->exec("SELECT COUNT(*) FROM big WHERE v = $1", {hi}).rows.at(0).i64(0) == 1);
  CHECK(c->exec("SELECT COUNT(*) FROM big WHERE v < $1", {lo + 1}).rows.at(0).i64(0) == 1);
}

TEST_CASE_TEMPLATE("unicode and awkward text round-trip", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  c->exec_script("CREATE TABLE u (id INTEGER PRIMARY KEY, s TEXT NOT NULL)");
  const std::vector<std::string> values = {
      "Grüße aus Köln", "日本語テキスト", "🎉 party 👍🏽 (skin tone)", "עברית and العربية",
      "quote ' double \" backslash \\ semicolon ;", "$1 and ?1 and :name", "line\nbreak\ttab",
      std::string(100'000, 'x') + "é"};
  for (size_t i = 0; i < values.size(); ++i)
    c->exec("INSERT INTO u (id, s) VALUES ($1, $2)", {i64(static_cast<int64_t>(i)), values[i]});
  auto r = c->exec("SELECT s FROM u ORDER BY id");
  REQUIRE(r.rows.size() == values.size());
  for (size_t i = 0; i < values.size(); ++i)
    CHECK(r.rows[i].str(0) == values[i]);
  // Lengths in characters, not bytes: both engines see UTF-8 text.
  CHECK(c->exec("SELECT LENGTH(s) FROM u WHERE s = $1", {values[1]}).rows.at(0).i64(0) == 7);
}

TEST_CASE_TEMPLATE("constraint errors flag unique violations only", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  c->exec_script("CREATE TABLE k (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                 "CREATE UNIQUE INDEX k_name ON k (name);"
                 "CREATE TABLE tk (key TEXT PRIMARY KEY)");
  c->exec("INSERT INTO k (id, name) VALUES ($1, $2)", {i64(1), text("a")});
  c->exec("INSERT INTO tk (key) VALUES ($1)", {text("a")});

  auto flag_of = [&](const std::string& sql, const sql_params& params) {
    try {
      c->exec(sql, params);
    } catch (const db_error& e) {
      return std::optional<bool>(e.unique_violation());
    }
    return std::optional<bool>();
  };
  CHECK(flag_of("INSERT INTO k (id, name) VALUES ($1, $2)", {i64(1), text("b")}) == true);  // pk
  CHECK(flag_of("INSERT INTO k (id, name) VALUES ($1, $2)", {i64(2), text("a")}) == true);  // index
  CHECK(flag_of("INSERT INTO tk (key) VALUES ($1)", {text("a")}) == true);                  // text pk
  CHECK(flag_of("INSERT INTO k (id, name) VALUES ($1, $2)", {i64(3), nullptr}) == false);   // not null
  CHECK(flag_of("INSERT INTO nowhere (x) VALUES ($1)", {i64(1)}) == false);                 // no table
  CHECK(c->exec("INSERT INTO k (id, name) VALUES ($1, $2)", {i64(2), text("b")}).affected == 1);
  CHECK(count(*c, "k") == 2);
}

TEST_CASE_TEMPLATE("in_transaction commits on return and rolls back on throw", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  // One connection, so every step below reuses the one the previous left.
  auto p = open_pool(db.options(1));
  p->acquire()->exec_script("CREATE TABLE tx (id INTEGER PRIMARY KEY)");

  int64_t n = in_transaction(*p, [](connection& c) {
    c.exec("INSERT INTO tx (id) VALUES ($1)", {i64(1)});
    c.exec("INSERT INTO tx (id) VALUES ($1)", {i64(2)});
    return count(c, "tx");
  });
  CHECK(n == 2);

  CHECK_THROWS_WITH_AS(in_transaction(*p,
                                      [](connection& c) {
                                        c.exec("INSERT INTO tx (id) VALUES ($1)", {i64(3)});
                                        throw std::runtime_error("abandon");
                                      }),
                       "abandon", std::runtime_error);
  CHECK_THROWS_AS(in_transaction(*p,
                                 [](connection& c) {
                                   c.exec("INSERT INTO tx (id) VALUES ($1)", {i64(4)});
                                   c.exec("INSERT INTO tx (id) VALUES ($1)", {i64(1)}); // duplicate
                                 }),
                  db_error);
  {
    // A lease dropped mid-transaction: the pool rolls it back.
    auto c = p->acquire();
    c->begin();
    c->exec("INSERT INTO tx (id) VALUES ($1)", {i64(5)});
  }
  auto c = p->acquire();
  auto r = c->exec("SELECT id FROM tx ORDER BY id");
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].i64(0) == 1);
  CHECK(r.rows[1].i64(0) == 2);
  c->begin(); // no transaction is left open
  c->rollback();
}

TEST_CASE_TEMPLATE("the pool serves 8 threads at once", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  constexpr int threads = 8, rounds = 40;
  auto p = open_pool(db.options(4)); // fewer connections than threads: acquire must block
  p->acquire()->exec_script("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);"
                            "INSERT INTO counter (id, n) VALUES (1, 0);"
                            "CREATE TABLE log (thread INTEGER NOT NULL, round INTEGER NOT NULL,"
                            " PRIMARY KEY (thread, round))");
  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_error;
  std::vector<std::thread> pool_users;
  for (int t = 0; t < threads; ++t) {
    pool_users.emplace_back([&, t] {
      try {
        for (int i = 0; i < rounds; ++i) {
          in_transaction(*p, [&](connection& c) {
            c.exec("UPDATE counter SET n = n + 1 WHERE id = 1");
            c.exec("INSERT INTO log (thread, round) VALUES ($1, $2)", {i64(t), i64(i)});
          });
          auto c = p->acquire(); // a plain read outside any transaction
          c->exec("SELECT COUNT(*) FROM log WHERE thread = $1", {i64(t)});
        }
      } catch (const std::exception& e) {
        ++failures;
        std::lock_guard<std::mutex> lk(mu);
        first_error = e.what();
      }
    });
  }
  for (auto& th : pool_users)
    th.join();
  INFO("first error: " << first_error);
  CHECK(failures == 0);
  auto c = p->acquire();
  CHECK(c->exec("SELECT n FROM counter WHERE id = 1").rows.at(0).i64(0) == threads * rounds);
  CHECK(count(*c, "log") == threads * rounds);
}

TEST_CASE_TEMPLATE("migrations apply once, also when two processes race", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  const auto& all = embedded_migrations();
  REQUIRE_FALSE(all.empty());
  for (size_t i = 1; i < all.size(); ++i)
    CHECK(all[i - 1].version < all[i].version);

  // Two pools stand in for two processes starting together.
  auto p1 = open_pool(db.options(2));
  auto p2 = open_pool(db.options(2));
  std::string error;
  std::thread other([&] {
    try {
      run_migrations(*p2);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  run_migrations(*p1);
  other.join();
  CHECK(error.empty());
  run_migrations(*p1); // and again: nothing left to do

  auto c = p1->acquire();
  auto r = c->exec("SELECT version FROM schema_version");
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].i64(0) == all.back().version);
}

TEST_CASE_TEMPLATE("$N inside literals and comments is left alone", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  auto r = c->exec("SELECT '$1' AS a, $1 AS b, 'it''s $2 -- no comment' AS c /* $3 */ -- $4\n",
                   {text("v")});
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].str(0) == "$1");
  CHECK(r.rows[0].str(1) == "v");
  CHECK(r.rows[0].str(2) == "it's $2 -- no comment");
}

TEST_CASE_TEMPLATE("exec_script runs several statements", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options());
  auto c = p->acquire();
  c->exec_script("-- a comment first\n"
                 "CREATE TABLE s (id INTEGER PRIMARY KEY, note TEXT);\n"
                 "INSERT INTO s (id, note) VALUES (1, 'a;b');\n"
                 "/* block */ INSERT INTO s (id, note) VALUES (2, '$1');\n");
  CHECK(count(*c, "s") == 2);
  CHECK(c->exec("SELECT note FROM s WHERE id = 2").rows.at(0).str(0) == "$1");
  CHECK_THROWS_AS(c->exec_script("INSERT INTO s (id) VALUES (3); INSERT INTO s (id) VALUES (1)"),
                  db_error);
}

TEST_CASE_TEMPLATE("exec_many returns each statement's result", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options(1));
  auto c = p->acquire();
  c->exec_script("CREATE TABLE b (id BIGINT PRIMARY KEY, name TEXT, note TEXT)");
  CHECK(c->exec_many({}).empty());
  const std::string insert = "INSERT INTO b (id, name, note) VALUES ($1, $2, $3)";
  auto r = c->exec_many({
      {insert, {i64(1), text("alice"), nullptr}},
      {insert, {i64(2), text("bob"), text("hi")}}, // the same SQL twice: prepared once
      {"UPDATE b SET note = $1 WHERE id >= $2", {text("x"), i64(1)}},
      {"SELECT id, name, note FROM b ORDER BY id", {}},
      {"DELETE FROM b WHERE id = $1", {i64(99)}},
      {"SELECT COUNT(*) FROM b WHERE name = $1", {text("bob")}},
      {"SELECT note FROM b WHERE id = $1", {i64(42)}},
  });
  REQUIRE(r.size() == 7);
  CHECK(r[0].affected == 1);
  CHECK(r[0].empty());
  CHECK(r[1].affected == 1);
  CHECK(r[2].affected == 2);
  REQUIRE(r[3].rows.size() == 2);
  CHECK(r[3].affected == 0);
  CHECK(r[3].rows[0].i64(0) == 1);
  CHECK(r[3].rows[0].str(1) == "alice");
  CHECK(r[3].rows[0].str(2) == "x");
  CHECK(r[3].rows[1].str(1) == "bob");
  CHECK(r[4].affected == 0);
  REQUIRE(r[5].rows.size() == 1);
  CHECK(r[5].rows[0].i64(0) == 1);
  CHECK(r[6].empty());

  // Inside a transaction of the caller's, and with SQL cached by exec().
  c->begin();
  r = c->exec_many({{insert, {i64(3), text("carol"), nullptr}},
                    {"SELECT name FROM b WHERE id = $1", {i64(3)}}});
  c->commit();
  REQUIRE(r.size() == 2);
  CHECK(r[1].rows.at(0).str(0) == "carol");
  CHECK(count(*c, "b") == 3);

  // NULL and empty text stay distinct; a NUL byte is refused before anything runs.
  r = c->exec_many({{"SELECT CAST($1 AS TEXT), CAST($2 AS TEXT)", {nullptr, text("")}}});
  CHECK(r.at(0).rows.at(0).is_null(0));
  CHECK(r.at(0).rows.at(0).str(1).empty());
  if (c->kind() == engine_kind::postgres) { // SQLite stores NUL bytes in text
    CHECK_THROWS_AS(c->exec_many({{insert, {i64(4), text("dave"), nullptr}},
                                  {insert, {i64(5), text(std::string("a\0b", 3)), nullptr}}}),
                    db_error);
    CHECK(count(*c, "b") == 3);
  }
}

TEST_CASE_TEMPLATE("exec_many stops at the first failing statement", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options(1));
  auto c = p->acquire();
  c->exec_script("CREATE TABLE f (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
  const std::string insert = "INSERT INTO f (id, name) VALUES ($1, $2)";
  c->exec(insert, {i64(1), text("one")});

  auto error_of = [&](const std::vector<statement>& stmts) -> std::optional<db_error> {
    try {
      c->exec_many(stmts);
    } catch (const db_error& e) {
      return e;
    }
    return std::nullopt;
  };

  // In a transaction: the failure surfaces, the caller rolls back.
  c->begin();
  auto e = error_of({{insert, {i64(10), text("a")}},
                     {insert, {i64(1), text("dup")}},
                     {insert, {i64(11), text("b")}}});
  REQUIRE(e);
  CHECK(e->unique_violation());
  c->rollback();
  CHECK(c->exec("SELECT COUNT(*) FROM f WHERE id >= $1", {i64(10)}).rows.at(0).i64(0) == 0);

  // Outside one: nothing after the failure is applied; what came before
  // stays on SQLite (autocommit) and is undone on PostgreSQL (one implicit
  // transaction per pipeline).
  e = error_of({{insert, {i64(20), text("a")}},
                {insert, {i64(1), text("dup")}},
                {insert, {i64(21), text("b")}}});
  REQUIRE(e);
  CHECK(e->unique_violation());
  CHECK(c->exec("SELECT COUNT(*) FROM f WHERE id = $1", {i64(21)}).rows.at(0).i64(0) == 0);
  CHECK(c->exec("SELECT COUNT(*) FROM f WHERE id = $1", {i64(20)}).rows.at(0).i64(0) ==
        (c->kind() == engine_kind::sqlite ? 1 : 0));
  c->exec("DELETE FROM f WHERE id <> $1", {i64(1)});

  // Other errors are not unique violations: NOT NULL, bad SQL, wrong arity.
  e = error_of({{insert, {i64(30), nullptr}}, {insert, {i64(31), text("x")}}});
  REQUIRE(e);
  CHECK_FALSE(e->unique_violation());
  e = error_of({{insert, {i64(32), text("x")}}, {"SELEKT 1", {}}, {insert, {i64(33), text("x")}}});
  REQUIRE(e);
  CHECK_FALSE(e->unique_violation());
  CHECK(std::string(e->what()).find("SELEKT") != std::string::npos);
  e = error_of({{"SELECT name FROM f WHERE id = $1", {}}});
  REQUIRE(e);
  CHECK_FALSE(e->unique_violation());
  // SQLite autocommitted 32, before SELEKT.
  CHECK(c->exec("SELECT COUNT(*) FROM f WHERE id >= $1", {i64(31)}).rows.at(0).i64(0) ==
        (c->kind() == engine_kind::sqlite ? 1 : 0));

  // The same connection goes on working, for exec and for exec_many.
  CHECK(c->exec("SELECT name FROM f WHERE id = $1", {i64(1)}).rows.at(0).str(0) == "one");
  auto r = c->exec_many({{insert, {i64(2), text("two")}}, {"SELECT COUNT(*) FROM f", {}}});
  CHECK(r.at(1).rows.at(0).i64(0) == 2 + (c->kind() == engine_kind::sqlite ? 1 : 0));
  c->begin(); // no transaction was left open
  c->rollback();
}

TEST_CASE_TEMPLATE("exec_transaction applies all or nothing", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options(1));
  auto c = p->acquire();
  c->exec_script("CREATE TABLE a (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
  const std::string insert = "INSERT INTO a (id, name) VALUES ($1, $2)";
  c->exec(insert, {i64(100), text("existing")});
  CHECK(c->exec_transaction({}).empty());

  // A unique violation in statement 3 of 5: nothing of statements 1-2 stays.
  std::optional<db_error> err;
  try {
    c->exec_transaction({{insert, {i64(1), text("a")}},
                         {"UPDATE a SET name = $1 WHERE id = $2", {text("new"), i64(100)}},
                         {insert, {i64(100), text("dup")}},
                         {insert, {i64(4), text("d")}},
                         {insert, {i64(5), text("e")}}});
  } catch (const db_error& e) {
    err = e;
  }
  REQUIRE(err);
  CHECK(err->unique_violation());
  CHECK(count(*c, "a") == 1);
  CHECK(c->exec("SELECT name FROM a WHERE id = $1", {i64(100)}).rows.at(0).str(0) == "existing");
  c->begin(); // it rolled back: no transaction is left open
  c->rollback();

  // The same statements without the duplicate all apply.
  const std::string update = "UPDATE a SET name = $1 WHERE id = $2";
  auto r = c->exec_transaction({{insert, {i64(1), text("a")}},
                                {update, {text("changed"), i64(100)}},
                                {insert, {i64(3), text("c")}},
                                {insert, {i64(4), text("d")}},
                                {"SELECT id FROM a ORDER BY id", {}}});
  REQUIRE(r.size() == 5);
  CHECK(r[0].affected == 1);
  CHECK(r[1].affected == 1);
  REQUIRE(r[4].rows.size() == 4);
  CHECK(r[4].rows[3].i64(0) == 100);
  CHECK(count(*c, "a") == 4);

  // Other failures roll back too, and the connection stays usable.
  CHECK_THROWS_AS(c->exec_transaction({{insert, {i64(7), text("g")}}, {insert, {i64(8), nullptr}}}),
                  db_error);
  CHECK_THROWS_AS(c->exec_transaction({{insert, {i64(7), text("g")}}, {"SELEKT", {}}}), db_error);
  CHECK(count(*c, "a") == 4);

  // Not inside a transaction opened with begin(): refused, which leaves that
  // transaction alone.
  c->begin();
  c->exec(insert, {i64(9), text("i")});
  CHECK_THROWS_AS(c->exec_transaction({{insert, {i64(10), text("j")}}}), db_error);
  c->commit();
  CHECK(count(*c, "a") == 5);
}

TEST_CASE_TEMPLATE("the statement cache stays right after a failed batch", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options(1));
  auto c = p->acquire();
  c->exec_script("CREATE TABLE pc (id BIGINT PRIMARY KEY, v TEXT)");
  // Each SQL text is new to the connection, so the batch prepares it: A and B
  // are prepared before B fails; C, D and E come after the failure (their
  // prepares are skipped on PostgreSQL and must not be taken as done).
  const std::string a = "INSERT INTO pc (id, v) VALUES ($1, $2)";
  const std::string b = "INSERT INTO pc (id, v) VALUES ($1, 'fixed')";
  const std::string cq = "SELECT v FROM pc WHERE id = $1";
  const std::string d = "UPDATE pc SET v = $2 WHERE id = $1";
  const std::string e = "DELETE FROM pc WHERE id = $1";
  c->exec(a, {i64(1), text("one")});
  auto failing = std::vector<statement>{{a, {i64(2), text("two")}},
                                        {b, {i64(1)}}, // duplicate
                                        {cq, {i64(1)}},
                                        {d, {i64(1), text("x")}},
                                        {e, {i64(1)}}};
  CHECK_THROWS_AS(c->exec_many(failing), db_error);
  CHECK_THROWS_AS(c->exec_transaction(failing), db_error);
  c->begin();
  CHECK_THROWS_AS(c->exec_many(failing), db_error);
  c->rollback();
  // A failing prepare, then statements after it.
  const std::string plus = "SELECT CAST($1 AS BIGINT) + 1";
  CHECK_THROWS_AS(c->exec_many({{"SELEKT $1", {i64(1)}}, {plus, {i64(1)}}}), db_error);

  // Each of them runs, singly and in batches.
  CHECK(c->exec(cq, {i64(1)}).rows.at(0).str(0) == "one");
  CHECK(c->exec(d, {i64(1), text("uno")}).affected == 1);
  CHECK(c->exec(plus, {i64(1)}).rows.at(0).i64(0) == 2);
  auto r = c->exec_many({{b, {i64(3)}},
                         {cq, {i64(3)}},
                         {d, {i64(3), text("three")}},
                         {cq, {i64(3)}},
                         {e, {i64(3)}},
                         {plus, {i64(2)}}});
  CHECK(r.at(1).rows.at(0).str(0) == "fixed");
  CHECK(r.at(3).rows.at(0).str(0) == "three");
  CHECK(r.at(4).affected == 1);
  CHECK(r.at(5).rows.at(0).i64(0) == 3);
  r = c->exec_transaction({{a, {i64(4), text("four")}}, {b, {i64(5)}}, {cq, {i64(4)}},
                           {d, {i64(5), text("five")}}, {e, {i64(1)}}});
  CHECK(r.at(2).rows.at(0).str(0) == "four");
  CHECK(c->exec(e, {i64(4)}).affected == 1);
  CHECK(c->exec(b, {i64(6)}).affected == 1);
  c->exec("DELETE FROM pc WHERE id = 2"); // SQLite autocommitted it in the first batch
  auto all = c->exec("SELECT id, v FROM pc ORDER BY id");
  REQUIRE(all.rows.size() == 2);
  CHECK(all.rows[0].i64(0) == 5);
  CHECK(all.rows[0].str(1) == "five");
  CHECK(all.rows[1].i64(0) == 6);
}

TEST_CASE_TEMPLATE("exec_many and exec_transaction take large batches", DB, sqlite_db, pg_db) {
  AXON_ENGINE_OR_SKIP(db);
  auto p = open_pool(db.options(1));
  auto c = p->acquire();
  c->exec_script("CREATE TABLE lb (id BIGINT PRIMARY KEY, body TEXT NOT NULL)");
  constexpr int n = 3000;
  const std::string body(500, 'b');
  std::vector<statement> inserts;
  for (int i = 0; i < n; ++i)
    inserts.push_back({"INSERT INTO lb (id, body) VALUES ($1, $2)", {i64(i), text(body)}});
  auto r = c->exec_transaction(inserts);
  REQUIRE(r.size() == static_cast<size_t>(n));
  CHECK(r.front().affected == 1);
  CHECK(r.back().affected == 1);
  CHECK(count(*c, "lb") == n);

  // As many reads, each answering ~4 KB: far more than socket buffers hold
  // while the batch is still being sent.
  std::vector<statement> reads;
  for (int i = 0; i < n; ++i)
    reads.push_back({"SELECT body || body || body || body || body || body || body || body "
                     "FROM lb WHERE id = $1",
                     {i64(i)}});
  r = c->exec_many(reads);
  REQUIRE(r.size() == static_cast<size_t>(n));
  CHECK(r.back().rows.at(0).str(0).size() == 8 * body.size());

  // Big requests and big answers at once (~24 MB each way): the server
  // answers long before it has read the whole batch.
  const std::string big(8000, 'e');
  reads.clear();
  for (int i = 0; i < n; ++i)
    reads.push_back({"SELECT CAST($1 AS TEXT), $2", {text(big), i64(i)}});
  r = c->exec_many(reads);
  REQUIRE(r.size() == static_cast<size_t>(n));
  CHECK(r.back().rows.at(0).str(0) == big);
  CHECK(r.back().rows.at(0).i64(1) == n - 1);

  // A late failure in a large transaction undoes all of it.
  inserts.clear();
  for (int i = n; i < 2 * n; ++i)
    inserts.push_back({"INSERT INTO lb (id, body) VALUES ($1, $2)", {i64(i), text(body)}});
  inserts.push_back({"INSERT INTO lb (id, body) VALUES ($1, $2)", {i64(0), text(body)}});
  CHECK_THROWS_AS(c->exec_transaction(inserts), db_error);
  CHECK(count(*c, "lb") == n);
}

// ---- engine-specific cases ----------------------------------------------------

TEST_CASE("sqlite: rewrite_placeholders") {
  CHECK(rewrite_placeholders("SELECT $1, $12") == "SELECT ?1, ?12");
  CHECK(rewrite_placeholders("SELECT '$1', \"$2\", $3") == "SELECT '$1', \"$2\", ?3");
  CHECK(rewrite_placeholders("SELECT 'a''$1' || $2") == "SELECT 'a''$1' || ?2");
  CHECK(rewrite_placeholders("SELECT $1 -- $2\n, $3 /* $4 */") == "SELECT ?1 -- $2\n, ?3 /* $4 */");
  CHECK(rewrite_placeholders("SELECT a$1, $x, $") == "SELECT a$1, $x, $");
  CHECK(rewrite_placeholders("SELECT 'unterminated $1") == "SELECT 'unterminated $1");
}

TEST_CASE("sqlite: ':memory:' is one database per pool, shared by its connections") {
  database_options o;
  o.sqlite_path = ":memory:";
  o.max_connections = 2;
  auto p = open_pool(o);
  auto a = p->acquire();
  auto b = p->acquire(); // a second connection
  a->exec_script("CREATE TABLE m (x INTEGER)");
  a->exec("INSERT INTO m (x) VALUES ($1)", {i64(7)});
  CHECK(b->exec("SELECT x FROM m").rows.at(0).i64(0) == 7);

  auto other = open_pool(o);
  CHECK_THROWS_AS(other->acquire()->exec("SELECT x FROM m"), db_error);
}

TEST_CASE("postgres: a dropped connection is re-established before its next use") {
  auto db = axon::test::pg_test_database::create();
  if (!db) {
    MESSAGE(std::string(axon::test::pg_skip_message));
    return;
  }
  auto p = open_pool(db->options(1));
  auto killer = open_pool(db->options(1));
  auto kill = [&](int64_t pid) {
    killer->acquire()->exec("SELECT pg_terminate_backend($1, 5000)", {pid});
  };
  auto c = p->acquire();
  int64_t pid = c->exec("SELECT pg_backend_pid()").rows.at(0).i64(0);
  kill(pid);
  CHECK_THROWS_AS(c->exec("SELECT 1"), db_error); // the failure surfaces once
  int64_t pid2 = c->exec("SELECT pg_backend_pid()").rows.at(0).i64(0);
  CHECK(pid2 != pid);

  // Inside a transaction there is no silent reconnect: the work so far is lost.
  c->begin();
  c->exec("SELECT 1");
  kill(pid2);
  CHECK_THROWS_AS(c->exec("SELECT 1"), db_error);
  CHECK_THROWS_AS(c->exec("SELECT 1"), db_error);
  c->rollback();
  CHECK(c->exec("SELECT 2").rows.at(0).i64(0) == 2);
}

TEST_CASE("postgres: committing after a failed statement reports the rollback") {
  auto db = axon::test::pg_test_database::create();
  if (!db) {
    MESSAGE(std::string(axon::test::pg_skip_message));
    return;
  }
  auto p = open_pool(db->options(1));
  p->acquire()->exec_script("CREATE TABLE f (id INTEGER PRIMARY KEY)");
  // SQLite keeps the transaction going after a failed statement; PostgreSQL
  // aborts it, and COMMIT must not pass for success.
  CHECK_THROWS_AS(in_transaction(*p,
                                 [](connection& c) {
                                   c.exec("INSERT INTO f (id) VALUES (1)");
                                   try {
                                     c.exec("INSERT INTO f (id) VALUES (1)");
                                   } catch (const db_error&) {
                                   }
                                 }),
                  db_error);
  CHECK(count(*p->acquire(), "f") == 0);
}

TEST_CASE("postgres: exec_transaction reports a failing COMMIT") {
  auto db = axon::test::pg_test_database::create();
  if (!db) {
    MESSAGE(std::string(axon::test::pg_skip_message));
    return;
  }
  auto p = open_pool(db->options(1));
  auto c = p->acquire();
  // A deferred constraint is checked by COMMIT, the pipeline's last command.
  c->exec_script("CREATE TABLE dc (id INTEGER, CONSTRAINT dc_id UNIQUE (id) DEFERRABLE INITIALLY "
                 "DEFERRED)");
  const std::string insert = "INSERT INTO dc (id) VALUES ($1)";
  std::optional<db_error> err;
  try {
    c->exec_transaction({{insert, {i64(1)}}, {insert, {i64(1)}}});
  } catch (const db_error& e) {
    err = e;
  }
  REQUIRE(err);
  CHECK(err->unique_violation());
  CHECK(count(*c, "dc") == 0);
  CHECK(c->exec_transaction({{insert, {i64(1)}}, {insert, {i64(2)}}}).size() == 2);
  CHECK(count(*c, "dc") == 2);
}

TEST_CASE("postgres: a pipeline on a dropped connection fails once, then reconnects") {
  auto db = axon::test::pg_test_database::create();
  if (!db) {
    MESSAGE(std::string(axon::test::pg_skip_message));
    return;
  }
  auto p = open_pool(db->options(1));
  auto killer = open_pool(db->options(1));
  auto kill = [&](int64_t pid) {
    killer->acquire()->exec("SELECT pg_terminate_backend($1, 5000)", {pid});
  };
  auto c = p->acquire();
  c->exec_script("CREATE TABLE dr (id INTEGER PRIMARY KEY)");
  const std::string insert = "INSERT INTO dr (id) VALUES ($1)";
  std::vector<statement> batch{{insert, {i64(1)}}, {"SELECT COUNT(*) FROM dr", {}}};

  kill(c->exec("SELECT pg_backend_pid()").rows.at(0).i64(0));
  CHECK_THROWS_AS(c->exec_many(batch), db_error);
  CHECK(c->exec_many(batch).at(1).rows.at(0).i64(0) == 1);

  kill(c->exec("SELECT pg_backend_pid()").rows.at(0).i64(0));
  batch[0].params = {i64(2)};
  CHECK_THROWS_AS(c->exec_transaction(batch), db_error);
  CHECK(c->exec_transaction(batch).at(1).rows.at(0).i64(0) == 2);

  // Inside a transaction: no silent reconnect until the caller rolls back.
  c->begin();
  kill(c->exec("SELECT pg_backend_pid()").rows.at(0).i64(0));
  batch[0].params = {i64(3)};
  CHECK_THROWS_AS(c->exec_many(batch), db_error);
  CHECK_THROWS_AS(c->exec_many(batch), db_error);
  c->rollback();
  CHECK(c->exec_many(batch).at(1).rows.at(0).i64(0) == 3);
}

TEST_CASE("postgres: timing of 1000 inserts, exec() vs exec_transaction()") {
  auto db = axon::test::pg_test_database::create();
  if (!db) {
    MESSAGE(std::string(axon::test::pg_skip_message));
    return;
  }
  auto p = open_pool(db->options(1));
  auto c = p->acquire();
  c->exec_script("CREATE TABLE tm (id BIGINT PRIMARY KEY, room TEXT NOT NULL, body TEXT NOT NULL)");
  const std::string insert = "INSERT INTO tm (id, room, body) VALUES ($1, $2, $3)";
  constexpr int n = 1000, rounds = 5;
  const std::string body(300, 'j');
  int64_t next_id = 0;
  auto batch = [&] {
    std::vector<statement> st;
    for (int i = 0; i < n; ++i)
      st.push_back({insert, {i64(next_id++), text("!room:example.org"), text(body)}});
    return st;
  };
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  double best_exec = 1e18, best_many = 1e18, best_tx = 1e18, sum_exec = 0, sum_many = 0, sum_tx = 0;
  c->exec(insert, {i64(-1), text("warm"), text("up")}); // prepared before timing
  for (int round = 0; round < rounds; ++round) {
    auto st = batch();
    auto t0 = clock::now();
    c->begin();
    for (const auto& s : st)
      c->exec(s.sql, s.params);
    c->commit();
    double t = ms(clock::now() - t0);
    best_exec = std::min(best_exec, t);
    sum_exec += t;

    st = batch();
    t0 = clock::now();
    c->begin();
    c->exec_many(st);
    c->commit();
    t = ms(clock::now() - t0);
    best_many = std::min(best_many, t);
    sum_many += t;

    st = batch();
    t0 = clock::now();
    c->exec_transaction(st);
    t = ms(clock::now() - t0);
    best_tx = std::min(best_tx, t);
    sum_tx += t;
  }
  CHECK(count(*c, "tm") == 1 + 3 * n * rounds);
  char line[300];
  std::snprintf(line, sizeof line,
                "%d single-row inserts in one transaction, best / mean of %d: "
                "exec() %.1f / %.1f ms; begin+exec_many+commit %.1f / %.1f ms; "
                "exec_transaction() %.1f / %.1f ms",
                n, rounds, best_exec, sum_exec / rounds, best_many, sum_many / rounds, best_tx,
                sum_tx / rounds);
  MESSAGE(std::string(line));
}
