// tests/integration/storage_engine_test.cpp -- the same cases on SQLite (a
// temporary file) and PostgreSQL (a fresh database on AXON_TEST_PG).
#include "storage/database.hpp"
#include "storage/sqlite/sqlite_engine.hpp"
#include "tests/integration/pg_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

using namespace axon::storage;
namespace fs = std::filesystem;

namespace {

// ---- engines under test -----------------------------------------------------

/// A database file in a fresh temporary directory, removed afterwards.
struct sqlite_db {
  fs::path dir;
  sqlite_db() {
    std::string tmpl = (fs::temp_directory_path() / "axon_sqlite_XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
  }
  ~sqlite_db() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  bool ready() const { return true; }
  const char* skip_reason() const { return ""; }
  database_options options(int max_connections = 4) const {
    database_options o;
    o.kind = engine_kind::sqlite;
    o.sqlite_path = (dir / "axon.db").string();
    o.max_connections = max_connections;
    return o;
  }
};

struct pg_db {
  std::unique_ptr<axon::test::pg_test_database> db = axon::test::pg_test_database::create();
  bool ready() const { return db != nullptr; }
  const char* skip_reason() const { return axon::test::pg_skip_message; }
  database_options options(int max_connections = 4) const { return db->options(max_connections); }
};

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
