// tests/integration/test_databases.hpp -- the two engines the integration
// tests run every case on: a SQLite file in a fresh temporary folder, and a
// fresh database on the PostgreSQL that scripts/test starts (AXON_TEST_PG).
#pragma once

#include "storage/database.hpp"
#include "tests/integration/pg_fixture.hpp"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace axon::test {

namespace fs = std::filesystem;

struct sqlite_db {
  fs::path dir;
  sqlite_db() {
    std::string tmpl = (fs::temp_directory_path() / "axon_test_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
  }
  ~sqlite_db() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  bool ready() const { return true; }
  const char* skip_reason() const { return ""; }
  storage::database_options options(int max_connections = 4) const {
    storage::database_options o;
    o.kind = storage::engine_kind::sqlite;
    o.sqlite_path = (dir / "axon.db").string();
    o.max_connections = max_connections;
    return o;
  }
};

struct pg_db {
  std::unique_ptr<test::pg_test_database> db = test::pg_test_database::create();
  bool ready() const { return db != nullptr; }
  const char* skip_reason() const { return test::pg_skip_message; }
  storage::database_options options(int max_connections = 4) const {
    return db->options(max_connections);
  }
};

} // namespace axon::test
