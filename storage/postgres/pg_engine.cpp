// storage/postgres/pg_engine.cpp -- connection and pool over libpq.
#include "storage/postgres/pg_engine.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <unordered_map>

namespace axon::storage {

// ---- constants --------------------------------------------------------------

namespace {

constexpr const char* sqlstate_unique_violation = "23505";
/// Past this many prepared statements the connection deallocates them all
/// (SQL built at run time would otherwise grow the server's set forever).
constexpr size_t max_cached_statements = 512;

// ---- helpers ----------------------------------------------------------------

std::string clip(std::string_view sql) {
  constexpr size_t max = 200;
  return sql.size() <= max ? std::string(sql) : std::string(sql.substr(0, max)) + "...";
}

/// libpq messages end in a newline; error text reads better without it.
std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

bool starts_with(const char* s, std::string_view prefix) {
  return s && std::strncmp(s, prefix.data(), prefix.size()) == 0;
}

struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

// ---- connection -------------------------------------------------------------

class pg_connection final : public connection {
public:
  explicit pg_connection(const std::string& conninfo) {
    // `conninfo` may be key=value pairs or a URI: pass it as an expandable
    // dbname so the settings after it override whatever it says.
    const char* keys[] = {"application_name", "dbname", "client_encoding", nullptr};
    const char* vals[] = {"axon", conninfo.c_str(), "UTF8", nullptr};
    conn_ = PQconnectdbParams(keys, vals, 1);
    if (!conn_)
      throw db_error("postgres: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = trimmed(PQerrorMessage(conn_));
      PQfinish(conn_);
      throw db_error("postgres: cannot connect: " + msg);
    }
    // Notices ("relation already exists, skipping") would go to stderr.
    PQsetNoticeProcessor(conn_, +[](void*, const char*) {}, nullptr);
  }

  ~pg_connection() override { PQfinish(conn_); }

  engine_kind kind() const override { return engine_kind::postgres; }

  result exec(std::string_view sql, const sql_params& params) override {
    ensure_connected();
    const std::string& name = prepare_cached(sql);
    // Text protocol throughout: int64 as decimal, NULL as a null pointer.
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (auto n = std::get_if<int64_t>(&params[i])) {
        text[i] = std::to_string(*n);
      } else if (auto s = std::get_if<std::string>(&params[i])) {
        if (s->find('\0') != std::string::npos)
          throw db_error("postgres: text parameter $" + std::to_string(i + 1) +
                         " contains a NUL byte (in: " + clip(sql) + ")");
        text[i] = *s;
      } else {
        continue;
      }
      values[i] = text[i].c_str();
    }
    result_ptr r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()),
                                values.data(), nullptr, nullptr, 0));
    return collect(r.get(), sql);
  }

  void exec_script(std::string_view sql) override {
    ensure_connected();
    result_ptr r(PQexec(conn_, std::string(sql).c_str()));
    collect(r.get(), sql);
  }

  void begin() override {
    ensure_connected();
    simple("BEGIN");
    in_tx_ = true;
  }

  void commit() override {
    in_tx_ = false;
    result_ptr r(PQexec(conn_, "COMMIT"));
    collect(r.get(), "COMMIT");
    // COMMIT of a transaction that already failed succeeds as a ROLLBACK.
    if (starts_with(PQcmdStatus(r.get()), "ROLLBACK"))
      throw db_error("postgres: transaction was rolled back after an earlier error");
  }

  void rollback() override {
    in_tx_ = false;
    if (PQstatus(conn_) == CONNECTION_BAD)
      return; // the server dropped the transaction with the session
    simple("ROLLBACK");
  }

  /// Called when the connection returns to the pool.
  void tidy() {
    if (PQstatus(conn_) == CONNECTION_BAD)
      return; // reset before its next use
    if (in_tx_ || PQtransactionStatus(conn_) != PQTRANS_IDLE)
      rollback();
  }

private:
  /// Reconnects a broken connection, but never inside a transaction: its
  /// earlier statements are gone with the old session.
  void ensure_connected() {
    if (PQstatus(conn_) != CONNECTION_BAD)
      return;
    if (in_tx_)
      throw db_error("postgres: connection lost inside a transaction");
    PQreset(conn_);
    statements_.clear(); // they lived in the old session
    if (PQstatus(conn_) != CONNECTION_OK)
      throw db_error("postgres: cannot reconnect: " + trimmed(PQerrorMessage(conn_)));
  }

  void simple(const char* sql) {
    result_ptr r(PQexec(conn_, sql));
    collect(r.get(), sql);
  }

  const std::string& prepare_cached(std::string_view sql) {
    std::string key(sql);
    auto it = statements_.find(key);
    if (it != statements_.end())
      return it->second;
    if (statements_.size() >= max_cached_statements && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      simple("DEALLOCATE ALL");
      statements_.clear();
    }
    std::string name = "s" + std::to_string(++statement_counter_);
    // No parameter types: the server infers them from the statement.
    result_ptr r(PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr));
    collect(r.get(), sql);
    return statements_.emplace(std::move(key), std::move(name)).first->second;
  }

  result collect(PGresult* r, std::string_view sql) const {
    auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
      const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      std::string msg = primary ? trimmed(primary) : trimmed(PQerrorMessage(conn_));
      if (state)
        msg += std::string(" [") + state + "]";
      bool unique = state && std::strcmp(state, sqlstate_unique_violation) == 0;
      throw db_error("postgres: " + msg + " (in: " + clip(sql) + ")", unique);
    }
    result out;
    int nrows = PQntuples(r);
    int ncols = PQnfields(r);
    out.rows.reserve(static_cast<size_t>(nrows));
    for (int i = 0; i < nrows; ++i) {
      std::vector<std::optional<std::string>> cols;
      cols.reserve(static_cast<size_t>(ncols));
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(r, i, c))
          cols.emplace_back(std::nullopt);
        else
          cols.emplace_back(std::string(PQgetvalue(r, i, c), static_cast<size_t>(PQgetlength(r, i, c))));
      }
      out.rows.emplace_back(std::move(cols));
    }
    // PQcmdTuples also counts SELECTed rows; `affected` means changed rows.
    const char* tag = PQcmdStatus(r);
    if (starts_with(tag, "INSERT") || starts_with(tag, "UPDATE") || starts_with(tag, "DELETE") ||
        starts_with(tag, "MERGE")) {
      const char* n = PQcmdTuples(r);
      std::from_chars(n, n + std::strlen(n), out.affected);
    }
    return out;
  }

  PGconn* conn_ = nullptr;
  bool in_tx_ = false;
  uint64_t statement_counter_ = 0;
  std::unordered_map<std::string, std::string> statements_; // SQL text -> server-side name
};

} // namespace

// ---- pool -------------------------------------------------------------------

std::unique_ptr<pool> open_pg_pool(const database_options& opts) {
  std::string conninfo = opts.pg_conninfo;
  return make_blocking_pool(
      engine_kind::postgres, opts, [conninfo] { return std::make_unique<pg_connection>(conninfo); },
      [](connection& c) { static_cast<pg_connection&>(c).tidy(); });
}

} // namespace axon::storage
