// storage/database.hpp -- the engine interface every store is written against.
//
// SQL is written once, portable between SQLite and PostgreSQL, with `$1..$n`
// placeholders; the SQLite engine rewrites them to `?1..?n`. Engine
// differences stay behind this interface (see storage/README.md).
//
// Calls block: use them only from blocking threads (HTTP request threads,
// detached actors), never from CAF's cooperative scheduler threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace axon::storage {

enum class engine_kind { sqlite, postgres };

/// A bound parameter: NULL, integer or text.
using sql_value = std::variant<std::nullptr_t, int64_t, std::string>;
using sql_params = std::vector<sql_value>;

/// Thrown by engines on any database failure. Stores let it propagate to the
/// request boundary, which answers M_UNKNOWN (500) and rolls back.
class db_error : public std::runtime_error {
public:
  db_error(std::string msg, bool unique_violation = false)
    : std::runtime_error(std::move(msg)), unique_violation_(unique_violation) {}
  /// True when a UNIQUE / PRIMARY KEY constraint rejected the statement.
  bool unique_violation() const { return unique_violation_; }

private:
  bool unique_violation_;
};

/// One result row; columns by index. Values arrive as text or NULL whatever
/// the engine (PostgreSQL text protocol); helpers convert.
class row {
public:
  explicit row(std::vector<std::optional<std::string>> cols) : cols_(std::move(cols)) {}
  bool is_null(size_t i) const { return !cols_.at(i).has_value(); }
  const std::string& str(size_t i) const;      ///< throws db_error on NULL
  std::string str_or(size_t i, std::string def) const;
  int64_t i64(size_t i) const;                 ///< throws db_error on NULL / not a number
  int64_t i64_or(size_t i, int64_t def) const;
  size_t size() const { return cols_.size(); }

private:
  std::vector<std::optional<std::string>> cols_;
};

struct result {
  std::vector<row> rows;
  int64_t affected = 0; ///< rows changed by INSERT/UPDATE/DELETE
  bool empty() const { return rows.empty(); }
};

/// One statement of a batch (connection::exec_many, exec_transaction).
struct statement {
  std::string sql;
  sql_params params;
};

/// `$first, $first+1, ...`: the placeholders of an IN list of n values.
std::string placeholders(size_t first, size_t n);

/// One database connection. Not thread-safe: one user at a time (a pool hands
/// them out).
class connection {
public:
  virtual ~connection() = default;
  virtual engine_kind kind() const = 0;
  /// Runs one statement. Statements are prepared once per connection and
  /// cached by their SQL text.
  virtual result exec(std::string_view sql, const sql_params& params = {}) = 0;
  /// Runs several `;`-separated statements without parameters (migrations).
  virtual void exec_script(std::string_view sql) = 0;
  /// Runs the statements in order, as if exec() were called on each, but on
  /// PostgreSQL sends them all at once in libpq pipeline mode (one round trip
  /// for the lot), and returns each statement's result. On the first failing
  /// statement it throws db_error (unique_violation flagged as exec() does)
  /// after draining the pipeline; statements after it are not applied
  /// (PostgreSQL aborts the pipeline; the caller's transaction must then be
  /// rolled back). PostgreSQL checks every text parameter for NUL bytes
  /// before sending anything.
  ///
  /// Outside a transaction the engines differ on the statements *before* a
  /// failing one: PostgreSQL runs the whole batch as one implicit transaction
  /// (a failure undoes them), SQLite autocommits each (they stay applied).
  /// Use exec_transaction, or begin() / exec_many / commit(), when it matters.
  virtual std::vector<result> exec_many(const std::vector<statement>& stmts) = 0;
  /// BEGIN; stmts...; COMMIT as one pipeline on PostgreSQL (one round trip);
  /// a plain transaction (BEGIN IMMEDIATE) on SQLite. Returns each statement's
  /// result. Throws db_error (after rolling back) when any statement fails;
  /// then nothing of it is applied. Must not be called while a transaction
  /// is open via begin() (throws db_error, leaving that transaction alone).
  virtual std::vector<result> exec_transaction(const std::vector<statement>& stmts) = 0;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
};

/// A fixed-size pool of connections to one database.
class pool {
public:
  class lease {
  public:
    lease(pool* p, std::unique_ptr<connection> c) : pool_(p), conn_(std::move(c)) {}
    lease(lease&&) = default;
    /// Returns the connection held so far to its pool, then takes `other`'s.
    lease& operator=(lease&& other) noexcept;
    ~lease();
    connection* operator->() const { return conn_.get(); }
    connection& operator*() const { return *conn_; }

  private:
    pool* pool_;
    std::unique_ptr<connection> conn_;
  };

  /// Must outlive every lease it hands out.
  virtual ~pool() = default;
  /// Blocks until a connection is free.
  virtual lease acquire() = 0;
  /// Overload figures: connections leased, threads waiting for one (the
  /// queue in front of the database), and the most it opens.
  struct figures_t {
    int in_use = 0;
    int waiting = 0;
    int max = 0;
  };
  virtual figures_t figures() const { return {}; }
  virtual engine_kind kind() const = 0;

protected:
  friend class lease;
  virtual void release(std::unique_ptr<connection> c) = 0;
};

struct database_options {
  engine_kind kind = engine_kind::sqlite;
  std::string sqlite_path;     ///< file, or ":memory:" (one shared in-memory db)
  std::string pg_conninfo;     ///< libpq connection string
  /// PostgreSQL's application_name: "axon/<instance>", so instances can
  /// tell which others are running (events_store::writers_status).
  std::string application_name = "axon";
  int min_connections = 1;     ///< `cp_min`
  int max_connections = 10;    ///< `cp_max`
};

/// Opens a pool; throws db_error when the database cannot be reached.
std::unique_ptr<pool> open_pool(const database_options& opts);

/// For engines, not stores: a pool that opens `max(min_connections, 1)`
/// connections with `open` now and more on demand up to `max_connections`;
/// `acquire` blocks while all are leased. `tidy` runs on each returned
/// connection (e.g. rolls back a transaction left open); when it throws, the
/// connection is closed instead of reused.
std::unique_ptr<pool> make_blocking_pool(engine_kind kind, const database_options& opts,
                                         std::function<std::unique_ptr<connection>()> open,
                                         std::function<void(connection&)> tidy);

/// Runs `fn` inside a transaction on a leased connection: commits when it
/// returns, rolls back and rethrows when it throws.
template <class F>
auto in_transaction(pool& p, F&& fn) -> decltype(fn(std::declval<connection&>())) {
  auto c = p.acquire();
  c->begin();
  try {
    if constexpr (std::is_void_v<decltype(fn(*c))>) {
      fn(*c);
      c->commit();
    } else {
      auto r = fn(*c);
      c->commit();
      return r;
    }
  } catch (...) {
    try { c->rollback(); } catch (...) {}
    throw;
  }
}

/// One schema step, from `storage/migrations/NNN_name.sql`.
struct migration {
  int version;           ///< NNN
  std::string_view name; ///< file name
  std::string_view sql;  ///< the file's text
};

/// The migrations embedded at build time, in ascending version order.
const std::vector<migration>& embedded_migrations();

/// Brings the schema up to the newest migration (storage/migrations). Safe
/// to call from several processes at once on PostgreSQL (advisory lock).
void run_migrations(pool& p);

} // namespace axon::storage
