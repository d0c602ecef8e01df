// tests/integration/pg_fixture.hpp -- a fresh PostgreSQL database per test.
//
// scripts/test starts a scratch server (scripts/lib/pg.sh) and exports
// AXON_TEST_PG, a libpq conninfo for its superuser. Without it the PostgreSQL
// cases are skipped with a message.
#pragma once

#include "storage/database.hpp"

#include <memory>
#include <string>

namespace axon::test {

constexpr const char* pg_skip_message =
    "AXON_TEST_PG is unset: PostgreSQL case skipped (scripts/test sets it; "
    "or source scripts/lib/pg.sh and run pg_start DIR)";

/// A database `axon_test_<random>` created on the AXON_TEST_PG server and
/// dropped (closing any connection left to it) when this goes away. Close
/// pools on it first.
class pg_test_database {
public:
  /// nullptr when AXON_TEST_PG is unset; throws storage::db_error when it is
  /// set but the database cannot be created.
  static std::unique_ptr<pg_test_database> create();
  ~pg_test_database();
  pg_test_database(const pg_test_database&) = delete;
  pg_test_database& operator=(const pg_test_database&) = delete;

  const std::string& name() const { return name_; }
  /// libpq conninfo for this database.
  const std::string& conninfo() const { return conninfo_; }
  storage::database_options options(int max_connections = 10) const;

private:
  pg_test_database(std::string admin, std::string name, std::string conninfo)
    : admin_(std::move(admin)), name_(std::move(name)), conninfo_(std::move(conninfo)) {}

  std::string admin_;
  std::string name_;
  std::string conninfo_;
};

} // namespace axon::test
