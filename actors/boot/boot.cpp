// actors/boot/boot.cpp -- configuration to running roles.
//
// Start-up: load and validate the config (every problem named, then exit),
// open the database and migrate it, start the CAF actor system, spawn the
// roles this instance hosts (notifier; events writers named in
// stream_writers.events), build the transport, then start the listeners.
#include "actors/boot/boot.hpp"

#include "actors/client/routes.hpp"
#include "actors/events/events_writer.hpp"
#include "actors/http/http_server.hpp"
#include "actors/http/services.hpp"
#include "actors/notifier/notifier.hpp"
#include "actors/notifier/writer_liveness.hpp"
#include "actors/user_directory/user_directory_updater.hpp"
#include "actors/streams/account_data_writer.hpp"
#include "actors/streams/presence_writer.hpp"
#include "actors/streams/push_rules_writer.hpp"
#include "actors/streams/device_lists_writer.hpp"
#include "actors/streams/to_device_writer.hpp"
#include "actors/streams/receipts_writer.hpp"
#include "actors/streams/typing_writer.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "storage/stores/account_data_store.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/cross_signing_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/positions_store.hpp"
#include "storage/stores/receipts_store.hpp"
#include "storage/stores/push_actions_store.hpp"
#include "storage/stores/room_keys_store.hpp"
#include "storage/stores/presence_store.hpp"
#include "storage/stores/pushers_store.hpp"
#include "storage/stores/push_rules_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "storage/stores/user_directory_store.hpp"
#include "storage/stores/to_device_store.hpp"
#include "transport/local_transport.hpp"
#include "transport/redis_link.hpp"
#include "transport/routing_transport.hpp"

#include <algorithm>
#include <csignal>
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
  storage::accounts_store accounts(*pool);
  storage::account_data_store account_data(*pool);
  storage::push_rules_store push_rules(*pool);
  storage::rooms_store rooms(*pool);
  storage::pushers_store pushers(*pool);
  storage::user_directory_store user_directory(*pool);
  storage::presence_store presence(*pool);
  storage::events_store events(*pool);
  storage::e2e_keys_store e2e_keys(*pool);
  storage::cross_signing_store cross_signing(*pool);
  storage::to_device_store to_device(*pool);
  storage::receipts_store receipts(*pool);
  storage::push_actions_store push_actions(*pool);
  storage::room_keys_store room_keys(*pool);

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

  auto instance = cfg.instance_name();
  // Every stream's durable position (typing: in memory only, restarts from 0
  // with its writer). At start, and when Redis may have lost rows.
  // Several events writers: the lowest writer's recorded position (one that
  // never recorded has nothing in flight: the newest stored event).
  // Read in one statement (storage/stores/positions_store.hpp).
  storage::positions_store durable(*pool);
  auto writers_of = [&](const storage::durable_positions& d) {
    std::map<std::string, int64_t> out;
    for (auto& w : cfg.stream_writers.events) {
      auto i = d.events_writers.find(w);
      out[w] = i != d.events_writers.end() ? i->second : d.events;
    }
    return out;
  };
  auto writer_positions = [&] { return writers_of(durable.read()); };
  auto db_positions = [&] {
    auto d = durable.read();
    std::vector<int64_t> p(stream_count, 0);
    auto low = d.events;
    if (several_events_writers) {
      low = INT64_MAX;
      for (auto& [w, pos] : writers_of(d)) low = std::min(low, pos);
    }
    p[index(stream_id::events)] = low;
    p[index(stream_id::account_data)] = d.account_data;
    p[index(stream_id::push_rules)] = d.push_rules;
    p[index(stream_id::presence)] = d.presence;
    p[index(stream_id::device_lists)] = d.device_lists;
    p[index(stream_id::to_device)] = d.to_device;
    p[index(stream_id::receipts)] = d.receipts;
    return p;
  };
  auto hosts = [&](const std::vector<std::string>& writers) {
    return std::find(writers.begin(), writers.end(), instance) != writers.end();
  };
  transport::local_roles roles;
  roles.positions = std::make_shared<stream_positions>();
  auto start = db_positions();
  auto start_pos = start[index(stream_id::events)];
  // Several events writers and this instance one of them: positions come
  // from PostgreSQL's sequence, and this writer will claim everything handed
  // out so far as it starts, so readers here start there for it.
  int64_t sequence_so_far = 0;
  std::map<std::string, int64_t> writers_start;
  if (several_events_writers) {
    writers_start = writer_positions();
    if (hosts(cfg.stream_writers.events)) {
      try {
        sequence_so_far = events.prepare_position_sequence();
      } catch (const std::exception& e) {
        std::cerr << "axon: database: preparing the events position sequence: " << e.what() << "\n";
        return 1;
      }
      auto& mine = writers_start[instance];
      mine = std::max(mine, sequence_so_far);
      auto low = INT64_MAX;
      for (auto& [w, p] : writers_start) low = std::min(low, p);
      start[index(stream_id::events)] = low;
    }
  }
  // Several events writers: one that is down stops holding the others back.
  writer_liveness_actor liveness;
  if (several_events_writers) liveness = actors::spawn_writer_liveness(sys, *pool);
  roles.notifier = actors::spawn_notifier(sys, start, roles.positions, writers_start, liveness);
  std::vector<transport::bus_subscriber> subscribers{
    {caf::actor_cast<caf::actor>(roles.notifier), {}, true, ""}};
  caf::actor directory_updater;
  if (cfg.update_user_directory_from_worker == instance) {
    directory_updater = actors::spawn_user_directory_updater(sys, pool.get());
    // Only the event types the directory follows: a message wakes nothing.
    subscribers.push_back(
      {directory_updater, {"m.room.member", "m.room.join_rules", "m.room.history_visibility"}, false,
       ""});
  }
  auto bus = transport::spawn_stream_bus(sys, subscribers);
  actors::stream_writer_deps stream_deps{pool.get(), instance, bus};
  if (hosts(cfg.stream_writers.account_data))
    roles.account_data_writer = actors::spawn_account_data_writer(
      sys, stream_deps, start[index(stream_id::account_data)]);
  if (hosts(cfg.stream_writers.push_rules))
    roles.push_rules_writer = actors::spawn_push_rules_writer(
      sys, stream_deps, start[index(stream_id::push_rules)]);
  // presence.enabled: false tracks nothing: no writer, handlers never ask it.
  if (cfg.presence_enabled && hosts(cfg.stream_writers.presence)) {
    actors::presence_writer_deps presence_deps;
    presence_deps.pool = pool.get();
    presence_deps.instance_name = instance;
    presence_deps.publisher = bus;
    roles.presence_writer =
      actors::spawn_presence_writer(sys, presence_deps, start[index(stream_id::presence)]);
  }
  if (hosts(cfg.stream_writers.device_lists))
    roles.device_lists_writer = actors::spawn_device_lists_writer(
      sys, stream_deps, start[index(stream_id::device_lists)]);
  if (hosts(cfg.stream_writers.to_device))
    roles.to_device_writer =
      actors::spawn_to_device_writer(sys, stream_deps, start[index(stream_id::to_device)]);
  if (hosts(cfg.stream_writers.typing)) {
    roles.typing_writer = actors::spawn_typing_writer(sys, stream_deps);
    transport::subscribe_to_bus(bus, {caf::actor_cast<caf::actor>(roles.typing_writer),
                                      {"m.room.member"}, false, ""});
  }
  if (hosts(cfg.stream_writers.receipts))
    roles.receipts_writer =
      actors::spawn_receipts_writer(sys, stream_deps, start[index(stream_id::receipts)]);
  // In one process the notifier's push_rules position is exact (a rule
  // change is answered once it is there); with several, a change made
  // through another instance may not have arrived: ask the database.
  bool several = cfg.is_worker() || cfg.redis.enabled || !cfg.instance_map.empty();
  std::function<int64_t()> push_rules_position = [positions = roles.positions] {
    return positions->get(stream_id::push_rules);
  };
  if (several) push_rules_position = [&push_rules] { return push_rules.max_stream_id(); };
  roles.events_writer_names = cfg.stream_writers.events;
  for (auto& name : cfg.stream_writers.events) {
    if (name != instance) {
      roles.events_writers.emplace_back();
      continue;
    }
    actors::events_writer_deps d;
    d.pool = pool.get();
    d.server_name = cfg.server_name;
    d.key = *key;
    d.instance_name = instance;
    d.publisher = bus;
    d.start_pos = start_pos;
    d.push_rules_position = push_rules_position;
    if (several_events_writers) {
      // Positions from PostgreSQL's shared sequence.
      d.writers = cfg.stream_writers.events;
      d.allocate = [&events](size_t n) { return events.allocate_positions(n); };
      d.allocated_so_far = [so_far = sequence_so_far] { return so_far; };
    }
    roles.events_writers.push_back(actors::spawn_events_writer(sys, std::move(d)));
    if (several_events_writers)
      transport::subscribe_to_bus(
        bus, {caf::actor_cast<caf::actor>(roles.events_writers.back()), {}, false, ""});
  }
  auto local = transport::make_local_transport(sys, roles);
  auto* local_tr = local.get(); // the replication listener serves with this
  // Several instances: requests for roles hosted elsewhere go over HTTP
  // replication, rows from elsewhere arrive over Redis.
  std::unique_ptr<transport::redis_link> redis;
  std::unique_ptr<transport::transport> routed;
  http::token_cache tokens;
  if (cfg.redis.enabled) {
    transport::redis_link_deps rd;
    rd.redis = cfg.redis;
    rd.server_name = cfg.server_name;
    rd.instance = instance;
    // The bus's subscribers here (the Redis publisher only takes our own).
    rd.subscribers = subscribers;
    if (roles.typing_writer)
      rd.subscribers.push_back(
        {caf::actor_cast<caf::actor>(roles.typing_writer), {"m.room.member"}, false, ""});
    if (several_events_writers)
      for (auto& w : roles.events_writers)
        if (w) rd.subscribers.push_back({caf::actor_cast<caf::actor>(w), {}, false, ""});
    rd.notifier = roles.notifier;
    rd.db_positions = db_positions;
    rd.invalidate = [&tokens](const std::string& cache, const std::vector<std::string>& keys) {
      if (cache == "*") tokens.clear();
      else if (cache == "access_tokens")
        for (auto& k : keys) tokens.erase(k);
      else if (cache == "user_tokens")
        for (auto& k : keys) tokens.erase_user(k);
    };
    redis = std::make_unique<transport::redis_link>(sys, std::move(rd));
    // Only what this instance's writers publish goes out.
    transport::subscribe_to_bus(bus, {redis->publisher(), {}, true, instance});
  }
  if (several) {
    auto client = std::make_shared<transport::replication_client>(cfg.instance_map,
                                                                  cfg.worker_replication_secret);
    transport::invalidator inv;
    if (redis) inv = [r = redis.get()](const std::string& c, const std::vector<std::string>& k) {
      r->invalidate(c, k);
    };
    routed = transport::make_routing_transport(cfg, instance, std::move(local), client, inv,
                                               db_positions);
  }
  auto* tr = routed ? routed.get() : local.get();
  // Several events writers: claims reach the database only lazily, so ask
  // each other writer where it is before serving anyone (one that is down is
  // waited for through its claims later).
  if (several_events_writers)
    for (auto& w : cfg.stream_writers.events) {
      if (w == instance) continue;
      try {
        auto p = tr->events_writer_position(w);
        caf::anon_send(roles.notifier,
                       msg::stream_caught_up{static_cast<uint8_t>(stream_id::events), p, w});
      } catch (const matrix_error& e) {
        std::cerr << "axon: events writer " << w << ": " << e.what() << "\n";
      }
    }

  http::rate_limiter limiter;
  http::uia_sessions uia(*pool);
  http::server_context ctx;
  ctx.cfg = &cfg;
  ctx.pool = pool.get();
  ctx.accounts = &accounts;
  ctx.account_data = &account_data;
  ctx.push_rules = &push_rules;
  ctx.rooms = &rooms;
  ctx.pushers = &pushers;
  ctx.user_directory = &user_directory;
  ctx.presence = &presence;
  ctx.events = &events;
  ctx.e2e_keys = &e2e_keys;
  ctx.cross_signing = &cross_signing;
  ctx.to_device = &to_device;
  ctx.receipts = &receipts;
  ctx.push_actions = &push_actions;
  ctx.room_keys = &room_keys;
  ctx.transport = tr;
  ctx.local_transport = local_tr;
  ctx.key = &*key;
  ctx.limiter = &limiter;
  ctx.tokens = &tokens;
  ctx.uia = &uia;

  // Every actor spawned above: the actor system waits for them all when it
  // goes, so any way out from here stops them first.
  auto stop_actors = [&] {
    caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.notifier), caf::exit_reason::user_shutdown);
    if (liveness) caf::anon_send_exit(caf::actor_cast<caf::actor>(liveness), caf::exit_reason::user_shutdown);
    caf::anon_send_exit(bus, caf::exit_reason::user_shutdown);
    if (directory_updater) caf::anon_send_exit(directory_updater, caf::exit_reason::user_shutdown);
    for (auto& w : roles.events_writers)
      if (w) caf::anon_send_exit(caf::actor_cast<caf::actor>(w), caf::exit_reason::user_shutdown);
    if (roles.presence_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.presence_writer),
                          caf::exit_reason::user_shutdown);
    if (roles.account_data_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.account_data_writer),
                          caf::exit_reason::user_shutdown);
    if (roles.push_rules_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.push_rules_writer),
                          caf::exit_reason::user_shutdown);
    if (roles.device_lists_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.device_lists_writer),
                          caf::exit_reason::user_shutdown);
    if (roles.typing_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.typing_writer),
                          caf::exit_reason::user_shutdown);
    if (roles.receipts_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.receipts_writer),
                          caf::exit_reason::user_shutdown);
    if (roles.to_device_writer)
      caf::anon_send_exit(caf::actor_cast<caf::actor>(roles.to_device_writer),
                          caf::exit_reason::user_shutdown);
  };
  auto routes = client::all_routes();
  std::vector<std::unique_ptr<http::listener>> listeners;
  try {
    for (auto& lc : cfg.own_listeners()) {
      if (lc.type != "http") continue;
      listeners.push_back(http::start_listener(lc, routes, &ctx, cfg.tls_certificate_path,
                                               cfg.tls_private_key_path));
      std::cerr << "axon: " << instance << " listening on port " << listeners.back()->port()
                << (lc.tls ? " (TLS)" : "") << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "axon: " << e.what() << "\n";
    for (auto& l : listeners) l->stop();
    listeners.clear();
    stop_actors();
    return 1;
  }
  write_pid(cfg.is_worker() ? cfg.worker_pid_file : cfg.pid_file);
  std::cerr << "axon: " << cfg.server_name << " ready\n";

  int sig = 0;
  sigwait(&sigs, &sig);
  std::cerr << "axon: shutting down (signal " << sig << ")\n";
  for (auto& l : listeners) l->stop();
  listeners.clear();
  stop_actors();
  if (auto& pf = cfg.is_worker() ? cfg.worker_pid_file : cfg.pid_file; !pf.empty())
    fs::remove(pf);
  return 0;
}

} // namespace axon::boot
