// storage/postgres/pg_engine.cpp -- connection and pool over libpq.
#include "storage/postgres/pg_engine.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>
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
  pg_connection(const std::string& conninfo, const std::string& application_name) {
    // `conninfo` may be key=value pairs or a URI: pass it as an expandable
    // dbname so the settings after it override whatever it says.
    // application_name after it: ours wins over one given in database.args
    // (instances find each other by it).
    const char* keys[] = {"dbname", "application_name", "client_encoding", nullptr};
    const char* vals[] = {conninfo.c_str(), application_name.c_str(), "UTF8", nullptr};
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
    text_params p(sql, params);
    result_ptr r(PQexecPrepared(conn_, name.c_str(), p.count(), p.values(), nullptr, nullptr, 0));
    return collect(r.get(), sql);
  }

  std::vector<result> exec_many(const std::vector<statement>& stmts) override {
    ensure_connected();
    if (stmts.empty())
      return {};
    return run_pipeline(stmts, false);
  }

  std::vector<result> exec_transaction(const std::vector<statement>& stmts) override {
    auto ts = PQtransactionStatus(conn_);
    if (in_tx_ || ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE)
      throw db_error("postgres: exec_transaction called inside an open transaction");
    ensure_connected();
    if (stmts.empty())
      return {};
    return run_pipeline(stmts, true);
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
    if (broken())
      return; // the server dropped the transaction with the session
    simple("ROLLBACK");
  }

  /// Called when the connection returns to the pool.
  void tidy() {
    if (broken())
      return; // reset before its next use
    if (in_tx_ || PQtransactionStatus(conn_) != PQTRANS_IDLE)
      rollback();
  }

private:
  /// Parameters in the text protocol: int64 as decimal, NULL as a null
  /// pointer, text pointing into the caller's strings (which must outlive
  /// this). Throws db_error for text holding a NUL byte.
  class text_params {
  public:
    text_params(std::string_view sql, const sql_params& params)
      : numbers_(params.size()), values_(params.size(), nullptr) {
      for (size_t i = 0; i < params.size(); ++i) {
        if (auto n = std::get_if<int64_t>(&params[i])) {
          numbers_[i] = std::to_string(*n);
          values_[i] = numbers_[i].c_str();
        } else if (auto s = std::get_if<std::string>(&params[i])) {
          if (s->find('\0') != std::string::npos)
            throw db_error("postgres: text parameter $" + std::to_string(i + 1) +
                           " contains a NUL byte (in: " + clip(sql) + ")");
          values_[i] = s->c_str();
        }
      }
    }
    // values_ points into numbers_'s strings (short-string buffers too):
    // copying would leave it pointing at the original; moving the vectors
    // keeps the strings where they are.
    text_params(const text_params&) = delete;
    text_params& operator=(const text_params&) = delete;
    text_params(text_params&&) = default;
    int count() const { return static_cast<int>(values_.size()); }
    const char* const* values() const { return values_.data(); }

  private:
    std::vector<std::string> numbers_;
    std::vector<const char*> values_;
  };

  /// One command queued in a pipeline, in the order results come back.
  struct pipeline_step {
    enum kind_t { begin, prepare, query, commit } kind;
    size_t index = 0;                ///< into the statements (prepare, query)
    const std::string* name = nullptr; ///< server-side statement name (prepare)
  };

  /// Sends `stmts` (wrapped in BEGIN ... COMMIT when `wrap`) as one libpq
  /// pipeline ending in one Sync, then reads every result back.
  ///
  /// Blocking mode cannot deadlock on a long pipeline: while libpq waits to
  /// write it reads whatever the server sends into its input buffer
  /// (pqSendSome), so the server never blocks on a full socket for good.
  /// Hence no chunking: one round trip (plus TCP's own pacing) and one
  /// implicit transaction however many statements. Results are read only
  /// after the Sync, so they are all held in memory at once, as they are
  /// in the returned vector anyway.
  std::vector<result> run_pipeline(const std::vector<statement>& stmts, bool wrap) {
    // Everything that can fail without the server fails before sending.
    std::vector<text_params> params;
    params.reserve(stmts.size());
    for (const auto& st : stmts)
      params.emplace_back(st.sql, st.params);
    if (statements_.size() >= max_cached_statements && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      simple("DEALLOCATE ALL");
      statements_.clear();
    }

    if (PQenterPipelineMode(conn_) != 1)
      throw db_error("postgres: cannot enter pipeline mode: " + trimmed(PQerrorMessage(conn_)));

    std::optional<db_error> failure;
    auto fail_once = [&](db_error e) {
      if (!failure)
        failure = std::move(e);
    };
    auto send_error = [&](std::string_view sql) {
      return db_error("postgres: cannot send: " + trimmed(PQerrorMessage(conn_)) + " (in: " +
                      clip(sql) + ")");
    };

    // ---- send ----
    std::vector<pipeline_step> steps;
    steps.reserve(stmts.size() + 2);
    // SQL -> name for statements first prepared in this pipeline. They enter
    // statements_ only once their Parse is reported done: a Parse skipped
    // because an earlier command failed never created the statement.
    std::unordered_map<std::string_view, std::string> fresh;
    bool sending = true;
    auto send_plain = [&](const char* sql, pipeline_step::kind_t kind) {
      if (PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1) {
        steps.push_back({kind});
      } else {
        fail_once(send_error(sql));
        sending = false;
      }
    };
    if (wrap)
      send_plain("BEGIN", pipeline_step::begin);
    for (size_t i = 0; sending && i < stmts.size(); ++i) {
      const std::string& sql = stmts[i].sql;
      const std::string* name = nullptr;
      if (auto it = statements_.find(sql); it != statements_.end()) {
        name = &it->second;
      } else {
        auto [it2, inserted] = fresh.try_emplace(sql);
        if (inserted) {
          // No parameter types: the server infers them from the statement.
          it2->second = "s" + std::to_string(++statement_counter_);
          if (PQsendPrepare(conn_, it2->second.c_str(), sql.c_str(), 0, nullptr) != 1) {
            fail_once(send_error(sql));
            break;
          }
          steps.push_back({pipeline_step::prepare, i, &it2->second});
        }
        name = &it2->second;
      }
      if (PQsendQueryPrepared(conn_, name->c_str(), params[i].count(), params[i].values(), nullptr,
                              nullptr, 0) != 1) {
        fail_once(send_error(sql));
        break;
      }
      steps.push_back({pipeline_step::query, i});
    }
    if (wrap && !failure)
      send_plain("COMMIT", pipeline_step::commit);
    // Sync ends the pipeline (and flushes it): after a failure the server
    // skips everything up to here.
    bool lost = PQpipelineSync(conn_) != 1;
    if (lost)
      fail_once(send_error("pipeline sync"));

    // ---- receive ----
    std::vector<result> out(stmts.size());
    for (const auto& step : steps) {
      if (lost)
        break;
      // One result per command, then a null pointer.
      result_ptr r(PQgetResult(conn_));
      if (!r) {
        lost = true;
        fail_once(db_error("postgres: pipeline lost: " + trimmed(PQerrorMessage(conn_))));
        break;
      }
      while (PGresult* extra = PQgetResult(conn_))
        PQclear(extra);
      auto status = PQresultStatus(r.get());
      if (status == PGRES_PIPELINE_ABORTED)
        continue; // skipped after an earlier failure
      std::string_view sql;
      if (step.kind == pipeline_step::begin)
        sql = "BEGIN";
      else if (step.kind == pipeline_step::commit)
        sql = "COMMIT";
      else
        sql = stmts[step.index].sql;
      try {
        result res = collect(r.get(), sql);
        switch (step.kind) {
          case pipeline_step::prepare:
            statements_.emplace(stmts[step.index].sql, *step.name);
            break;
          case pipeline_step::query:
            out[step.index] = std::move(res);
            break;
          case pipeline_step::commit:
            if (starts_with(PQcmdStatus(r.get()), "ROLLBACK"))
              throw db_error("postgres: transaction was rolled back after an earlier error");
            break;
          case pipeline_step::begin:
            break;
        }
      } catch (db_error& e) {
        fail_once(std::move(e));
      }
      if (PQstatus(conn_) == CONNECTION_BAD)
        lost = true;
    }
    if (!lost) {
      result_ptr r(PQgetResult(conn_));
      if (!r || PQresultStatus(r.get()) != PGRES_PIPELINE_SYNC) {
        lost = true;
        fail_once(db_error("postgres: pipeline out of step: " + trimmed(PQerrorMessage(conn_))));
      }
    }

    // ---- leave pipeline mode: always, so the connection stays usable ----
    if (PQexitPipelineMode(conn_) != 1) {
      fail_once(
          db_error("postgres: cannot leave pipeline mode: " + trimmed(PQerrorMessage(conn_))));
      // A dropped connection is reset before its next use anyway; a live one
      // in an unknown state must be too.
      if (PQstatus(conn_) != CONNECTION_BAD)
        must_reset_ = true;
    } else if (lost && PQstatus(conn_) != CONNECTION_BAD) {
      must_reset_ = true; // results unread or out of step
    }
    if (!failure)
      return out;

    if (wrap && !broken() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      // A failure inside BEGIN ... COMMIT leaves the transaction aborted.
      try {
        simple("ROLLBACK");
      } catch (...) {
        must_reset_ = PQstatus(conn_) != CONNECTION_BAD;
      }
    }
    throw *failure;
  }

  /// True when the connection must be reset before its next use.
  bool broken() const { return must_reset_ || PQstatus(conn_) == CONNECTION_BAD; }

  /// Reconnects a broken connection, but never inside a transaction: its
  /// earlier statements are gone with the old session.
  void ensure_connected() {
    if (!broken())
      return;
    if (in_tx_)
      throw db_error("postgres: connection lost inside a transaction");
    PQreset(conn_);
    must_reset_ = false;
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
  bool must_reset_ = false; ///< left in an unknown state (see run_pipeline)
  uint64_t statement_counter_ = 0;
  std::unordered_map<std::string, std::string> statements_; // SQL text -> server-side name
};

} // namespace

// ---- pool -------------------------------------------------------------------

std::unique_ptr<pool> open_pg_pool(const database_options& opts) {
  std::string conninfo = opts.pg_conninfo;
  std::string name = opts.application_name;
  return make_blocking_pool(
      engine_kind::postgres, opts,
      [conninfo, name] { return std::make_unique<pg_connection>(conninfo, name); },
      [](connection& c) { static_cast<pg_connection&>(c).tidy(); });
}

} // namespace axon::storage
