// tests/integration/pg_fixture.cpp -- creates and drops scratch databases.
#include "tests/integration/pg_fixture.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <random>

namespace axon::test {

namespace {

using storage::db_error;

/// Runs one administrative statement on its own connection.
void admin_exec(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string error;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  if (!error.empty())
    throw db_error("pg_fixture: " + sql + ": " + error);
}

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  static const char* hex = "0123456789abcdef";
  uint64_t v = dist(rd);
  std::string s;
  for (int i = 0; i < 12; ++i, v >>= 4)
    s += hex[v & 0xf];
  return s;
}

/// `conninfo` (key=value pairs or a URI) with its dbname replaced.
std::string with_dbname(const std::string& conninfo, const std::string& dbname) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? err : "out of memory";
    PQfreemem(err);
    throw db_error("pg_fixture: AXON_TEST_PG is not a valid conninfo: " + msg);
  }
  std::string out;
  for (auto* o = opts; o->keyword; ++o) {
    std::string key = o->keyword;
    if (key == "dbname" || !o->val)
      continue;
    std::string quoted;
    for (const char* p = o->val; *p; ++p) {
      if (*p == '\'' || *p == '\\')
        quoted += '\\';
      quoted += *p;
    }
    out += key + "='" + quoted + "' ";
  }
  PQconninfoFree(opts);
  return out + "dbname=" + dbname;
}

} // namespace

std::unique_ptr<pg_test_database> pg_test_database::create() {
  const char* admin = std::getenv("AXON_TEST_PG");
  if (!admin || !*admin)
    return nullptr;
  std::string name = "axon_test_" + random_suffix();
  admin_exec(admin, "CREATE DATABASE " + name +
                        " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
  return std::unique_ptr<pg_test_database>(
      new pg_test_database(admin, name, with_dbname(admin, name)));
}

pg_test_database::~pg_test_database() {
  try {
    admin_exec(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // A scratch server is thrown away after the run anyway.
  }
}

storage::database_options pg_test_database::options(int max_connections) const {
  storage::database_options o;
  o.kind = storage::engine_kind::postgres;
  o.pg_conninfo = conninfo_;
  o.min_connections = 1;
  o.max_connections = max_connections;
  return o;
}

} // namespace axon::test
