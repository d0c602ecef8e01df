// storage/sqlite/sqlite_engine.cpp -- connection and pool over sqlite3.
#include "storage/sqlite/sqlite_engine.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cctype>
#include <unordered_map>

namespace axon::storage {

// ---- constants --------------------------------------------------------------

namespace {

constexpr int busy_timeout_ms = 10'000;
/// Past this many cached statements the cache is emptied (SQL built at run
/// time, e.g. IN lists of varying length, would otherwise grow it forever).
constexpr size_t max_cached_statements = 512;

// ---- helpers ----------------------------------------------------------------

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

std::string clip(std::string_view sql) {
  constexpr size_t max = 200;
  return sql.size() <= max ? std::string(sql) : std::string(sql.substr(0, max)) + "...";
}

bool is_unique_violation(int rc) {
  return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

struct stmt_deleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;

/// Resets a statement and drops its bindings when leaving scope, so the next
/// run starts clean and no pointer into the caller's parameters survives.
struct stmt_reset {
  sqlite3_stmt* st;
  ~stmt_reset() {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
};

// ---- connection -------------------------------------------------------------

class sqlite_connection final : public connection {
public:
  sqlite_connection(const std::string& target, bool in_memory) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(target.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw db_error("sqlite: cannot open '" + target + "': " + msg);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    try {
      // WAL lets readers run beside the one writer; an in-memory database
      // has no file to keep a WAL beside.
      if (!in_memory)
        exec_script("PRAGMA journal_mode=WAL");
      exec_script("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL");
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }

  ~sqlite_connection() override {
    cache_.clear(); // finalize before close
    sqlite3_close(db_);
  }

  engine_kind kind() const override { return engine_kind::sqlite; }

  result exec(std::string_view sql, const sql_params& params) override {
    sqlite3_stmt* st = prepare_cached(sql);
    stmt_reset guard{st};
    bind(st, sql, params);
    return run(st, sql);
  }

  void exec_script(std::string_view sql) override {
    const char* p = sql.data();
    const char* end = sql.data() + sql.size();
    while (p < end) {
      sqlite3_stmt* raw = nullptr;
      const char* tail = nullptr;
      int rc = sqlite3_prepare_v2(db_, p, static_cast<int>(end - p), &raw, &tail);
      if (rc != SQLITE_OK)
        fail(rc, std::string_view(p, static_cast<size_t>(end - p)));
      stmt_ptr st(raw);
      std::string_view one(p, static_cast<size_t>(tail - p));
      p = tail;
      if (!st)
        continue; // whitespace or a comment
      run(st.get(), one);
    }
  }

  std::vector<result> exec_many(const std::vector<statement>& stmts) override {
    std::vector<result> out;
    out.reserve(stmts.size());
    for (const auto& s : stmts)
      out.push_back(exec(s.sql, s.params));
    return out;
  }

  std::vector<result> exec_transaction(const std::vector<statement>& stmts) override {
    if (in_transaction())
      throw db_error("sqlite: exec_transaction called inside an open transaction");
    if (stmts.empty())
      return {};
    begin();
    try {
      auto out = exec_many(stmts);
      commit();
      return out;
    } catch (...) {
      try { rollback(); } catch (...) {}
      throw;
    }
  }

  void begin() override { exec("BEGIN IMMEDIATE", {}); } // take the write lock now: no upgrade deadlocks
  void commit() override { exec("COMMIT", {}); }
  void rollback() override {
    // SQLite rolls back by itself after some errors (SQLITE_FULL, IOERR...).
    if (in_transaction())
      exec("ROLLBACK", {});
  }

  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

private:
  [[noreturn]] void fail(int rc, std::string_view sql) const {
    throw db_error(std::string("sqlite: ") + sqlite3_errmsg(db_) + " (in: " + clip(sql) + ")",
                   is_unique_violation(rc));
  }

  sqlite3_stmt* prepare_cached(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end())
      return it->second.get();
    std::string rewritten = rewrite_placeholders(sql);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, rewritten.c_str(), static_cast<int>(rewritten.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, &tail);
    if (rc != SQLITE_OK)
      fail(rc, sql);
    stmt_ptr st(raw);
    if (!st)
      throw db_error("sqlite: empty statement");
    for (; *tail; ++tail)
      if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';')
        throw db_error("sqlite: exec takes one statement; use exec_script (in: " + clip(sql) + ")");
    if (cache_.size() >= max_cached_statements)
      cache_.clear();
    return cache_.emplace(std::string(sql), std::move(st)).first->second.get();
  }

  void bind(sqlite3_stmt* st, std::string_view sql, const sql_params& params) const {
    int expected = sqlite3_bind_parameter_count(st);
    if (static_cast<size_t>(expected) != params.size())
      throw db_error("sqlite: statement takes " + std::to_string(expected) + " parameters, got " +
                     std::to_string(params.size()) + " (in: " + clip(sql) + ")");
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      int rc = std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>)
              return sqlite3_bind_null(st, idx);
            else if constexpr (std::is_same_v<T, int64_t>)
              return sqlite3_bind_int64(st, idx, v);
            else // the statement is reset before `params` goes away
              return sqlite3_bind_text64(st, idx, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
          },
          params[i]);
      if (rc != SQLITE_OK)
        fail(rc, sql);
    }
  }

  result run(sqlite3_stmt* st, std::string_view sql) {
    result out;
    auto before = sqlite3_total_changes64(db_);
    int ncols = sqlite3_column_count(st);
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE)
        break;
      if (rc != SQLITE_ROW)
        fail(rc, sql);
      std::vector<std::optional<std::string>> cols;
      cols.reserve(static_cast<size_t>(ncols));
      for (int c = 0; c < ncols; ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_NULL) {
          cols.emplace_back(std::nullopt);
        } else {
          auto text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
          auto len = static_cast<size_t>(sqlite3_column_bytes(st, c));
          cols.emplace_back(text ? std::string(text, len) : std::string()); // empty BLOB: NULL pointer
        }
      }
      out.rows.emplace_back(std::move(cols));
    }
    // sqlite3_changes keeps the count of the last INSERT/UPDATE/DELETE, even
    // across later SELECTs and DDL; only trust it when this statement changed
    // something.
    if (sqlite3_total_changes64(db_) != before)
      out.affected = sqlite3_changes64(db_);
    return out;
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, stmt_ptr> cache_; // keyed by the caller's SQL text
};

} // namespace

// ---- placeholders -----------------------------------------------------------

std::string rewrite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  size_t i = 0;
  auto copy_until = [&](std::string_view stop) {
    size_t end = sql.find(stop, i);
    end = end == std::string_view::npos ? sql.size() : end + stop.size();
    out.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < sql.size()) {
    char c = sql[i];
    char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
    if (c == '\'' || c == '"') {
      // A doubled quote inside a literal reads as close + reopen: same result.
      out += c;
      ++i;
      copy_until(std::string_view(&c, 1));
    } else if (c == '-' && next == '-') {
      copy_until("\n");
    } else if (c == '/' && next == '*') {
      copy_until("*/");
    } else if (c == '$' && std::isdigit(static_cast<unsigned char>(next)) &&
               (i == 0 || !is_ident_char(sql[i - 1]))) {
      out += '?'; // `a$1` is an identifier in PostgreSQL, so only bare `$N`
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// ---- pool -------------------------------------------------------------------

std::unique_ptr<pool> open_sqlite_pool(const database_options& opts) {
  if (opts.sqlite_path.empty())
    throw db_error("sqlite: no database path configured");
  bool in_memory = opts.sqlite_path == ":memory:";
  std::string target = opts.sqlite_path;
  if (in_memory) {
    // One in-memory database that every connection of this pool opens by
    // name, living as long as one connection is open (the pool keeps one).
    // memdb rather than shared-cache ("file:x?mode=memory&cache=shared"):
    // shared-cache reports contention as SQLITE_LOCKED, which skips the busy
    // timeout, and SQLite's docs discourage it; memdb uses ordinary locking.
    static std::atomic<uint64_t> counter{0};
    target = "file:/axon_mem_" + std::to_string(++counter) + "?vfs=memdb";
  }
  return make_blocking_pool(
      engine_kind::sqlite, opts,
      [target, in_memory] { return std::make_unique<sqlite_connection>(target, in_memory); },
      [](connection& c) { static_cast<sqlite_connection&>(c).rollback(); });
}

} // namespace axon::storage
