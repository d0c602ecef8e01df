// actors/boot/boot.cpp -- configuration to running roles.
//
// Start-up: load and validate the config (every problem named, then exit),
// open the database and migrate it, start the CAF actor system, assemble the
// instance (its roles and transports: instance.hpp), then start the
// listeners.
#include "actors/boot/boot.hpp"

#include "actors/boot/instance.hpp"
#include "actors/http/listener_actor.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "storage/database.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <csignal>
#include <malloc.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace axon::boot {

namespace fs = std::filesystem;

namespace {

std::optional<config::homeserver_config> load(const options& opts) {
  auto r = config::load_config(opts.config_files);
  for (auto& w : r.warnings) std::cerr << "axon: warning: " << w << "\n";
  if (!r.config) {
    for (auto& e : r.errors) std::cerr << "axon: config error: " << e.to_string() << "\n";
    return std::nullopt;
  }
  return r.config;
}

std::optional<matrix::signing_key> read_key(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return matrix::signing_key::from_synapse_line(line);
}

bool write_key(const std::string& path) {
  auto key = matrix::signing_key::generate();
  std::error_code ec;
  if (auto dir = fs::path(path).parent_path(); !dir.empty()) fs::create_directories(dir, ec);
  std::ofstream out(path);
  out << key.to_synapse_line() << "\n";
  out.close();
  if (!out) return false;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
  std::cout << "Generated signing key " << key.key_id() << " in " << path << "\n";
  return true;
}

storage::database_options db_options(const config::homeserver_config& cfg) {
  storage::database_options o;
  if (cfg.database.name == "sqlite3") {
    o.kind = storage::engine_kind::sqlite;
    o.sqlite_path = cfg.database.sqlite_path;
    o.min_connections = 1;
    o.max_connections = std::max(4, cfg.database.cp_max);
  } else {
    o.kind = storage::engine_kind::postgres;
    o.pg_conninfo = cfg.database.pg_conninfo();
    o.application_name = "axon/" + cfg.instance_name();
    o.min_connections = cfg.database.cp_min;
    o.max_connections = cfg.database.cp_max;
  }
  return o;
}

void write_pid(const std::string& path) {
  if (path.empty()) return;
  std::ofstream(path) << getpid() << "\n";
}

} // namespace

int generate_config(const options& opts) {
  auto& path = opts.config_files.back();
  if (fs::exists(path)) {
    std::cout << "Config file " << path << " already exists; generating any missing keys.\n";
    return generate_keys(opts);
  }
  if (opts.server_name.empty()) {
    std::cerr << "axon: --generate-config needs --server-name\n";
    return 2;
  }
  auto dir = opts.data_directory.empty() ? fs::path(path).parent_path().string()
                                         : opts.data_directory;
  if (dir.empty()) dir = ".";
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto abs_dir = fs::absolute(dir).lexically_normal().string();
  if (abs_dir.size() > 1 && abs_dir.back() == '/') abs_dir.pop_back();
  std::ofstream out(path);
  out << config::sample_config(opts.server_name, abs_dir, matrix::random_string(48), false);
  out.close();
  if (!out) {
    std::cerr << "axon: cannot write " << path << "\n";
    return 1;
  }
  std::cout << "A config file has been generated in " << path << " for server name "
            << opts.server_name << ". Edit it before running.\n";
  return generate_keys(opts);
}

int generate_keys(const options& opts) {
  auto cfg = load(opts);
  if (!cfg) return 1;
  if (fs::exists(cfg->signing_key_path)) return 0;
  return write_key(cfg->signing_key_path) ? 0 : 1;
}

/// Each listener actor's figures, asked in turn (a listener that does not
/// answer within a second is left out).
std::vector<http::listener_figures> figures_of(caf::scoped_actor& me,
                                               const std::vector<http::listener_actor>& listeners) {
  std::vector<http::listener_figures> out;
  for (auto& l : listeners)
    me->request(l, std::chrono::seconds(1), caf::get_atom::value)
      .receive([&](const http::listener_figures& f) { out.push_back(f); }, [](const caf::error&) {});
  return out;
}

/// What an admin needs to see overload: per listener the connections open,
/// refused so far, requests in flight (queued for a handler actor among
/// them); the database pool's connections in use and requests waiting for
/// one; the long-polls parked.
std::string load_line(const std::vector<http::listener_figures>& listeners, const storage::pool& pool,
                      const instance& self) {
  std::string out;
  for (auto& f : listeners) {
    out += "port " + std::to_string(f.port) + ": " + std::to_string(f.open) + " connections, " +
           std::to_string(f.refused) + " refused, " + std::to_string(f.in_flight) + " requests (" +
           std::to_string(f.queued) + " queued); ";
  }
  auto db = pool.figures();
  out += "database: " + std::to_string(db.in_use) + " of " + std::to_string(db.max) + " connections in use, " +
         std::to_string(db.waiting) + " waiting; long-polls: " + std::to_string(self.long_polls_waiting());
  return out;
}

constexpr int check_every_s = 2;

/// Connections open and long-polls parked: what a burst of clients holds.
int64_t held_now(const std::vector<http::listener_figures>& listeners, const instance& self) {
  int64_t held = static_cast<int64_t>(self.long_polls_waiting());
  for (auto& f : listeners) held += f.open;
  return held;
}

/// Ends every listener actor and waits until each has (its server stopped).
void stop_listeners(caf::scoped_actor& me, std::vector<http::listener_actor>& listeners) {
  for (auto& l : listeners) {
    me->monitor(l);
    caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
  }
  for (size_t n = 0; n < listeners.size(); ++n) me->receive([](const caf::down_msg&) {});
  listeners.clear();
}

/// glibc keeps what a burst of connections and long-polls freed in its
/// arenas, spread over pages that each still hold a few live objects, and
/// gives it back to the system only when asked. When what clients hold
/// falls by a thousand or more, and to under half of the high mark since
/// the last time, it is asked (malloc_trim), so resident memory comes back
/// near idle after the burst. Costs a walk over the arenas, a few
/// milliseconds, only after such a fall.
struct memory_after_bursts {
  int64_t high = 0;
  void check(int64_t held) {
    high = std::max(high, held);
    if (high - held < 1000 || held * 2 > high) return;
    malloc_trim(0);
    high = held;
  }
};

int run(const options& opts) {
  auto cfg_opt = load(opts);
  if (!cfg_opt) return 1;
  auto& cfg = *cfg_opt;
  auto key = read_key(cfg.signing_key_path);
  if (!key) {
    std::cerr << "axon: config error: signing_key_path: cannot read a signing key from "
              << cfg.signing_key_path << " (create one with --generate-keys)\n";
    return 1;
  }
  // Block the signals in every thread; this one waits for them below.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Instances share one database: PostgreSQL (DESIGN.md "Storage").
  bool several_events_writers = cfg.stream_writers.events.size() > 1;
  // Synapse lets any of several receipts or device_lists writers write; in
  // Axon the first one writes them all and the others forward to it.
  for (const char* stream : {"receipts", "device_lists"}) {
    auto* writers = cfg.stream_writers.find(stream);
    if (writers && writers->size() > 1 && cfg.instance_name() == writers->front())
      std::cerr << "axon: stream_writers." << stream << " lists " << writers->size()
                << " instances: '" << writers->front()
                << "' writes the whole stream, the others forward to it\n";
  }
  if ((cfg.is_worker() || cfg.redis.enabled || several_events_writers) &&
      !cfg.database.is_postgres()) {
    std::cerr << "axon: database.name: several instances (workers, redis.enabled, several "
                 "stream_writers.events) share one PostgreSQL database (psycopg2); sqlite3 serves "
                 "one process\n";
    return 1;
  }
  std::unique_ptr<storage::pool> pool;
  try {
    pool = storage::open_pool(db_options(cfg));
    storage::run_migrations(*pool);
  } catch (const std::exception& e) {
    std::cerr << "axon: database: " << e.what() << "\n";
    return 1;
  }
  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  sys_cfg.set("scheduler.max-threads",
              static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  sys_cfg.set("logger.console", caf::atom("none"));
  // Work sharing: idle workers block on a condition variable and wake at once
  // when a message arrives. CAF's default work stealing polls with sleeps (up
  // to 10 ms when relaxed), which costs latency on every hop to a scheduled
  // actor and CPU while idle.
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{sys_cfg};

  std::unique_ptr<instance> self;
  try {
    self = std::make_unique<instance>(cfg, sys, *pool, *key);
  } catch (const std::exception& e) {
    std::cerr << "axon: " << e.what() << "\n";
    return 1;
  }
  auto name = cfg.instance_name();
  // Each listener is an actor owning its server (DESIGN.md "HTTP in and out").
  std::vector<http::listener_actor> listeners;
  caf::scoped_actor me{sys};
  try {
    for (auto& lc : cfg.own_listeners()) {
      if (lc.type != "http") continue;
      listeners.push_back(http::spawn_listener(sys, lc, self->routes(), &self->context(),
                                               cfg.tls_certificate_path, cfg.tls_private_key_path));
      auto f = figures_of(me, {listeners.back()});
      std::cerr << "axon: " << name << " listening on port " << (f.empty() ? 0 : f.front().port)
                << (lc.tls ? " (TLS)" : "") << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "axon: " << e.what() << "\n";
    stop_listeners(me, listeners);
    return 1;
  }
  write_pid(cfg.is_worker() ? cfg.worker_pid_file : cfg.pid_file);
  std::cerr << "axon: " << cfg.server_name << " ready\n";

  // Until a signal: every minute, the overload figures when they changed
  // (the metrics endpoint comes later); every few seconds, memory back
  // after a burst (memory_after_bursts).
  int sig = 0;
  std::string last_load;
  memory_after_bursts memory;
  for (int tick = 1;; ++tick) {
    timespec step{check_every_s, 0};
    sig = sigtimedwait(&sigs, nullptr, &step);
    if (sig > 0) break;
    auto figures = figures_of(me, listeners);
    memory.check(held_now(figures, *self));
    if (tick % (60 / check_every_s) != 0) continue;
    auto line = load_line(figures, *pool, *self);
    if (line != last_load) std::cerr << "axon: " << name << " load: " << line << "\n";
    last_load = std::move(line);
  }
  std::cerr << "axon: shutting down (signal " << sig << ")\n";
  stop_listeners(me, listeners);
  self.reset();
  if (auto& pf = cfg.is_worker() ? cfg.worker_pid_file : cfg.pid_file; !pf.empty())
    fs::remove(pf);
  return 0;
}

} // namespace axon::boot
