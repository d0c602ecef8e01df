// storage/database.cpp -- engine-neutral pieces: row conversions, the
// blocking pool both engines use, engine dispatch, migrations.
#include "storage/database.hpp"

#include "storage/postgres/pg_engine.hpp"
#include "storage/sqlite/sqlite_engine.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>

namespace axon::storage {

// ---- constants --------------------------------------------------------------

namespace {

/// Key of the PostgreSQL advisory lock held while migrating ("axonMIGR").
constexpr int64_t migration_lock_key = 0x61786f6e4d494752;

} // namespace

std::string placeholders(size_t first, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? ", $" : "$") + std::to_string(first + i);
  return s;
}

// ---- row --------------------------------------------------------------------

const std::string& row::str(size_t i) const {
  const auto& c = cols_.at(i);
  if (!c)
    throw db_error("column " + std::to_string(i) + " is NULL");
  return *c;
}

std::string row::str_or(size_t i, std::string def) const {
  const auto& c = cols_.at(i);
  return c ? *c : std::move(def);
}

int64_t row::i64(size_t i) const {
  const std::string& s = str(i);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    throw db_error("column " + std::to_string(i) + " is not an integer: '" + s + "'");
  return v;
}

int64_t row::i64_or(size_t i, int64_t def) const {
  return is_null(i) ? def : i64(i);
}

// ---- lease ------------------------------------------------------------------

pool::lease& pool::lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    if (pool_ && conn_)
      pool_->release(std::move(conn_));
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}

pool::lease::~lease() {
  if (pool_ && conn_)
    pool_->release(std::move(conn_));
}

// ---- blocking pool ----------------------------------------------------------

namespace {

class blocking_pool final : public pool {
public:
  blocking_pool(engine_kind kind, int max, std::function<std::unique_ptr<connection>()> open,
                std::function<void(connection&)> tidy)
    : kind_(kind), max_(max), open_(std::move(open)), tidy_(std::move(tidy)) {}

  void prefill(int n) {
    for (int i = 0; i < n; ++i) {
      idle_.push_back(open_());
      ++open_count_;
    }
  }

  lease acquire() override {
    std::unique_lock<std::mutex> lk(mu_);
    ++waiting_;
    cv_.wait(lk, [&] { return !idle_.empty() || open_count_ < max_; });
    --waiting_;
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return lease(this, std::move(c));
    }
    // Connect outside the lock: it can take a network round trip or more.
    ++open_count_;
    lk.unlock();
    try {
      return lease(this, open_());
    } catch (...) {
      lk.lock();
      --open_count_;
      cv_.notify_one();
      throw;
    }
  }

  engine_kind kind() const override { return kind_; }

  figures_t figures() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return {open_count_ - static_cast<int>(idle_.size()), waiting_, max_};
  }

protected:
  void release(std::unique_ptr<connection> c) override {
    bool keep = true;
    try {
      tidy_(*c);
    } catch (...) {
      keep = false;
    }
    if (!keep)
      c.reset(); // close before taking the lock
    std::lock_guard<std::mutex> lk(mu_);
    if (keep)
      idle_.push_back(std::move(c));
    else
      --open_count_;
    cv_.notify_one();
  }

private:
  const engine_kind kind_;
  const int max_;
  std::function<std::unique_ptr<connection>()> open_;
  std::function<void(connection&)> tidy_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0; // threads in acquire(); guarded by mu_
  std::vector<std::unique_ptr<connection>> idle_; // guarded by mu_
  int open_count_ = 0;                            // idle + leased; guarded by mu_
};

} // namespace

std::unique_ptr<pool> make_blocking_pool(engine_kind kind, const database_options& opts,
                                         std::function<std::unique_ptr<connection>()> open,
                                         std::function<void(connection&)> tidy) {
  // At least one connection up front: it proves the database is reachable
  // and keeps a shared in-memory SQLite database alive.
  int max = std::max(opts.max_connections, 1);
  int min = std::clamp(opts.min_connections, 1, max);
  auto p = std::make_unique<blocking_pool>(kind, max, std::move(open), std::move(tidy));
  p->prefill(min);
  return p;
}

std::unique_ptr<pool> open_pool(const database_options& opts) {
  switch (opts.kind) {
    case engine_kind::sqlite:
      return open_sqlite_pool(opts);
    case engine_kind::postgres:
      return open_pg_pool(opts);
  }
  throw db_error("unknown database engine");
}

// ---- migrations -------------------------------------------------------------

namespace {

/// Releases the advisory lock even when a migration throws.
struct advisory_unlock {
  connection& c;
  ~advisory_unlock() {
    try {
      c.exec("SELECT pg_advisory_unlock($1)", {migration_lock_key});
    } catch (...) {
      // A broken connection drops its session locks anyway.
    }
  }
};

int64_t current_version(connection& c) {
  auto r = c.exec("SELECT MAX(version) FROM schema_version");
  return r.empty() ? -1 : r.rows[0].i64_or(0, -1);
}

void apply_pending(connection& c) {
  c.exec_script("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const auto& all = embedded_migrations();
  int64_t newest = all.empty() ? -1 : all.back().version;
  int64_t now = current_version(c);
  if (now > newest)
    throw db_error("database schema version " + std::to_string(now) +
                   " is newer than this build knows (" + std::to_string(newest) + ")");
  for (const auto& m : all) {
    // The version is re-read inside each transaction so that two SQLite
    // processes migrating at once cannot both apply the same step.
    c.begin();
    try {
      if (current_version(c) < m.version) {
        c.exec_script(m.sql);
        c.exec("DELETE FROM schema_version");
        c.exec("INSERT INTO schema_version (version) VALUES ($1)", {int64_t{m.version}});
      }
      c.commit();
    } catch (const db_error& e) {
      try { c.rollback(); } catch (...) {}
      throw db_error("migration " + std::string(m.name) + " failed: " + e.what());
    } catch (...) {
      try { c.rollback(); } catch (...) {}
      throw;
    }
  }
}

} // namespace

void run_migrations(pool& p) {
  auto c = p.acquire();
  if (c->kind() == engine_kind::postgres) {
    // Session lock: concurrent processes queue here instead of racing on
    // CREATE TABLE (which is not safe concurrently even with IF NOT EXISTS).
    c->exec("SELECT pg_advisory_lock($1)", {migration_lock_key});
    advisory_unlock unlock{*c};
    apply_pending(*c);
  } else {
    apply_pending(*c);
  }
}

} // namespace axon::storage
