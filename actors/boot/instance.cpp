// actors/boot/instance.cpp
#include "actors/boot/instance.hpp"

#include "actors/client/routes.hpp"
#include "actors/events/events_writer.hpp"
#include "actors/federation/federation_client.hpp"
#include "actors/federation/federation_sender.hpp"
#include "actors/federation/keyring.hpp"
#include "actors/federation/rate_limit.hpp"
#include "actors/http/http_client.hpp"
#include "actors/http/http_client_actor.hpp"
#include "actors/http/services.hpp"
#include "actors/notifier/notifier.hpp"
#include "actors/notifier/writer_liveness.hpp"
#include "actors/replication/replication_handler.hpp"
#include "actors/streams/account_data_writer.hpp"
#include "actors/streams/device_lists_writer.hpp"
#include "actors/streams/presence_writer.hpp"
#include "actors/streams/push_rules_writer.hpp"
#include "actors/streams/receipts_writer.hpp"
#include "actors/streams/to_device_writer.hpp"
#include "actors/streams/typing_writer.hpp"
#include "actors/media/media_jobs.hpp"
#include "actors/user_directory/user_directory_updater.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "matrix/environment.hpp"
#include "storage/stores/account_data_store.hpp"
#include "storage/stores/accounts_store.hpp"
#include "storage/stores/client_ips_store.hpp"
#include "actors/media/media_repository.hpp"
#include "storage/stores/cross_signing_store.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "storage/stores/events_store.hpp"
#include "storage/stores/positions_store.hpp"
#include "storage/stores/presence_store.hpp"
#include "storage/stores/push_actions_store.hpp"
#include "storage/stores/push_rules_store.hpp"
#include "storage/stores/pushers_store.hpp"
#include "storage/stores/receipts_store.hpp"
#include "storage/stores/room_keys_store.hpp"
#include "storage/stores/rooms_store.hpp"
#include "storage/stores/to_device_store.hpp"
#include "storage/stores/user_directory_store.hpp"
#include "transport/local_transport.hpp"
#include "transport/redis_link.hpp"
#include "transport/routing_transport.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iostream>
#include <stdexcept>

namespace axon::boot {

struct instance::impl {
  impl(const config::homeserver_config& c, caf::actor_system& s, storage::pool& p)
    : cfg(c), sys(s), pool(p), accounts(p), account_data(p), push_rules(p), rooms(p), pushers(p),
      user_directory(p), presence(p), events(p), e2e_keys(p), cross_signing(p), to_device(p),
      receipts(p), push_actions(p), room_keys(p), durable(p) {}

  const config::homeserver_config& cfg;
  caf::actor_system& sys;
  storage::pool& pool;
  std::string name;
  bool several_events_writers = false;
  storage::accounts_store accounts;
  storage::account_data_store account_data;
  storage::push_rules_store push_rules;
  storage::rooms_store rooms;
  storage::pushers_store pushers;
  storage::user_directory_store user_directory;
  storage::presence_store presence;
  storage::events_store events;
  storage::e2e_keys_store e2e_keys;
  storage::cross_signing_store cross_signing;
  storage::to_device_store to_device;
  storage::receipts_store receipts;
  storage::push_actions_store push_actions;
  storage::room_keys_store room_keys;
  storage::positions_store durable;

  transport::local_roles roles;
  writer_liveness_actor liveness;
  notifier_shortcut shortcut; ///< for the pub/sub thread (actors/notifier)
  caf::actor bus, directory_updater;
  caf::actor media_jobs; ///< media_retention (runs_media_jobs, when configured)
  std::unique_ptr<transport::pubsub_wire> pubsub;
  /// Outbound HTTP (replication now; federation, pushers, appservices next).
  std::shared_ptr<http::http_client> http_client;
  http_client_actor outbound;
  /// Requests to other homeservers (through http_client, under the
  /// federation TLS and address policy).
  std::unique_ptr<federation::federation_client> federation;
  std::unique_ptr<federation::keyring> keyring;
  std::unique_ptr<federation::origin_limiter> federation_limiter;
  std::unique_ptr<transport::transport> local, routed;
  transport::transport* local_tr = nullptr;
  http::token_cache tokens;
  http::rate_limiter limiter;
  std::unique_ptr<http::uia_sessions> uia;
  std::unique_ptr<storage::client_ips> client_ips;
  std::unique_ptr<media::media_repository> media;
  std::shared_ptr<replication::txn_memory> replication_txns = replication::make_txn_memory();
  http::server_context ctx;
  std::vector<http::route> routes;
  std::function<void(caf::blocking_actor*)> before_receive;

  // Every positions entry's durable position (typing: in memory only,
  // restarts from 0 with its writer). At start, and when pub/sub may have
  // lost rows. Several events writers: each one's recorded position (one
  // that never recorded has nothing in flight: the newest stored event),
  // after the streams' entries, and the lowest of them as the events entry.
  // Read in one statement (storage/stores/positions_store.hpp).
  std::vector<std::pair<std::string, int64_t>> writers_of(const storage::durable_positions& d) const {
    std::vector<std::pair<std::string, int64_t>> out;
    for (auto& w : cfg.stream_writers.events) {
      auto i = d.events_writers.find(w);
      out.emplace_back(w, i != d.events_writers.end() ? i->second : d.events);
    }
    return out;
  }
  std::vector<int64_t> db_positions() { return positions_of(durable.read()); }
  std::vector<int64_t> positions_of(const storage::durable_positions& d) const {
    std::vector<int64_t> p(stream_count, 0);
    auto low = d.events;
    if (several_events_writers) {
      low = INT64_MAX;
      for (auto& [w, pos] : writers_of(d)) {
        low = std::min(low, pos);
        p.push_back(pos);
      }
    }
    p[index(stream_id::events)] = low;
    p[index(stream_id::account_data)] = d.account_data;
    p[index(stream_id::push_rules)] = d.push_rules;
    p[index(stream_id::presence)] = d.presence;
    p[index(stream_id::device_lists)] = d.device_lists;
    p[index(stream_id::to_device)] = d.to_device;
    p[index(stream_id::receipts)] = d.receipts;
    return p;
  }
  bool hosts(const std::vector<std::string>& writers) const {
    return std::find(writers.begin(), writers.end(), name) != writers.end();
  }

  void start(const matrix::signing_key& key, instance_links links);
  /// Every actor spawned, for stopping them.
  std::vector<caf::actor> actors() const;
};

void instance::impl::start(const matrix::signing_key& key, instance_links links) {
  name = cfg.instance_name();
  auto* env = links.env ? links.env : &matrix::system_environment();
  several_events_writers = cfg.stream_writers.events.size() > 1;
  before_receive = links.before_receive;
  roles.positions = std::make_shared<stream_positions>();
  roles.before_receive = links.before_receive;
  {
    // One client for all outbound HTTP; requests to other homeservers
    // under the federation policy.
    auto o = http::client_options(cfg.http_client);
    o.federation = federation::federation_tls_policy(cfg);
    http_client = std::make_shared<http::http_client>(std::move(o));
  }
  outbound = http::spawn_http_client_actor(sys, http_client);
  auto start = db_positions();
  auto start_pos = start[index(stream_id::events)];
  // Several events writers and this instance one of them: positions come
  // from PostgreSQL's sequence, and this writer will claim everything handed
  // out so far as it starts, so readers here start there for it.
  int64_t sequence_so_far = 0;
  std::vector<std::pair<std::string, int64_t>> writers_start;
  if (several_events_writers) {
    if (cfg.stream_writers.events.size() > max_events_writers)
      throw std::runtime_error("stream_writers.events: at most " +
                               std::to_string(max_events_writers) + " instances");
    writers_start = writers_of(durable.read());
    if (hosts(cfg.stream_writers.events)) {
      try {
        sequence_so_far = events.prepare_position_sequence();
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("database: preparing the events position sequence: ") +
                                 e.what());
      }
      for (auto& [w, p] : writers_start)
        if (w == name) p = std::max(p, sequence_so_far);
    }
    auto low = INT64_MAX;
    for (auto& [w, p] : writers_start) low = std::min(low, p);
    start[index(stream_id::events)] = low;
    start.resize(stream_count);
    // Each writer's number for tokens (matrix/stream_token.hpp).
    try {
      ctx.events_writer_ids = events.instance_ids(cfg.stream_writers.events);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("database: numbering the events writers: ") + e.what());
    }
  }
  // Several events writers: one that is down stops holding the others back.
  liveness = links.liveness;
  if (several_events_writers && !liveness) liveness = actors::spawn_writer_liveness(sys, pool);
  // Typing lives in its writer's memory: its positions start from the clock
  // (actors/streams/typing_writer.hpp).
  if (hosts(cfg.stream_writers.typing)) start[index(stream_id::typing)] = env->now_ms() * 1000;
  roles.notifier =
    actors::spawn_notifier(sys, start, roles.positions, writers_start, liveness, &shortcut,
                           &roles.waits);
  // This instance's events writers tell the notifier themselves.
  std::vector<transport::bus_subscriber> subscribers{
    {caf::actor_cast<caf::actor>(roles.notifier), {}, true, "", name}};
  if (cfg.update_user_directory_from_worker == name) {
    directory_updater = actors::spawn_user_directory_updater(sys, &pool);
    // Only the event types the directory follows: a message wakes nothing.
    subscribers.push_back(
      {directory_updater, {"m.room.member", "m.room.join_rules", "m.room.history_visibility"}, false,
       "", ""});
  }
  auto bus_handle = transport::spawn_stream_bus(sys, subscribers);
  bus = bus_handle.actor;
  actors::stream_writer_deps stream_deps{&pool, name, bus, env};
  if (hosts(cfg.stream_writers.account_data))
    roles.account_data_writer = actors::spawn_account_data_writer(
      sys, stream_deps, start[index(stream_id::account_data)]);
  if (hosts(cfg.stream_writers.push_rules))
    roles.push_rules_writer = actors::spawn_push_rules_writer(
      sys, stream_deps, start[index(stream_id::push_rules)]);
  // presence.enabled: false tracks nothing: no writer, handlers never ask it.
  if (cfg.presence_enabled && hosts(cfg.stream_writers.presence)) {
    actors::presence_writer_deps presence_deps;
    presence_deps.pool = &pool;
    presence_deps.instance_name = name;
    presence_deps.publisher = bus;
    presence_deps.detached = !links.before_receive;
    presence_deps.now = [env] { return env->now_ms(); };
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
    roles.typing_writer =
      actors::spawn_typing_writer(sys, stream_deps, start[index(stream_id::typing)]);
    transport::subscribe_to_bus(bus, {caf::actor_cast<caf::actor>(roles.typing_writer),
                                      {"m.room.member"}, false, "", ""});
  }
  if (hosts(cfg.stream_writers.receipts))
    roles.receipts_writer =
      actors::spawn_receipts_writer(sys, stream_deps, start[index(stream_id::receipts)]);
  // Each stream writer here says where it starts, as the events writers do:
  // readers elsewhere learn that it started again, and catch up on what it
  // may have stored but not published before it stopped. (The bus hands it
  // to the pub/sub publisher when that subscribes.)
  for (auto [s, writer] : {std::make_pair(stream_id::account_data, bool(roles.account_data_writer)),
                           std::make_pair(stream_id::push_rules, bool(roles.push_rules_writer)),
                           std::make_pair(stream_id::presence, bool(roles.presence_writer)),
                           std::make_pair(stream_id::device_lists, bool(roles.device_lists_writer)),
                           std::make_pair(stream_id::to_device, bool(roles.to_device_writer)),
                           std::make_pair(stream_id::typing, bool(roles.typing_writer)),
                           std::make_pair(stream_id::receipts, bool(roles.receipts_writer))})
    if (writer)
      caf::anon_send(bus, msg::stream_advanced{static_cast<uint8_t>(index(s)), name, start[index(s)], {}});
  // In one process the notifier's push_rules position is exact (a rule
  // change is answered once it is there); with several, a change made
  // through another instance may not have arrived: ask the database.
  bool several = cfg.is_worker() || cfg.redis.enabled || !cfg.instance_map.empty();
  std::function<int64_t()> push_rules_position = [positions = roles.positions] {
    return positions->get(stream_id::push_rules);
  };
  if (several) push_rules_position = [this] { return push_rules.max_stream_id(); };
  roles.events_writer_names = cfg.stream_writers.events;
  for (auto& w : cfg.stream_writers.events) {
    if (w != name) {
      roles.events_writers.emplace_back();
      continue;
    }
    actors::events_writer_deps d;
    d.pool = &pool;
    d.server_name = cfg.server_name;
    d.key = key;
    d.instance_name = name;
    d.publisher = bus;
    d.publish_here = bus_handle.publish_here;
    d.notifier = caf::actor_cast<caf::actor>(roles.notifier);
    d.notify_here = shortcut.own_events;
    d.start_pos = start_pos;
    d.push_rules_position = push_rules_position;
    d.env = env;
    if (several_events_writers) {
      // Positions from PostgreSQL's shared sequence.
      d.writers = cfg.stream_writers.events;
      d.allocate = [this](size_t n) { return events.allocate_positions(n); };
      d.allocated_so_far = [so_far = sequence_so_far] { return so_far; };
    }
    roles.events_writers.push_back(actors::spawn_events_writer(sys, std::move(d)));
    if (several_events_writers)
      transport::subscribe_to_bus(
        bus, {caf::actor_cast<caf::actor>(roles.events_writers.back()), {}, false, "", ""});
  }
  // Federation: requests to other servers, their keys, and (on
  // federation_sender_instances) the sender of what is queued for them.
  federation = std::make_unique<federation::federation_client>(cfg, key, http_client, *env);
  keyring = std::make_unique<federation::keyring>(cfg, key, pool, *federation, *env);
  if (hosts(cfg.federation_sender_instances)) {
    federation::federation_sender_deps fd;
    fd.pool = &pool;
    fd.client = federation.get();
    fd.server_name = cfg.server_name;
    fd.env = env;
    roles.federation_sender = federation::spawn_federation_sender(sys, std::move(fd));
    // Events written here or elsewhere may have queued PDUs for it; local
    // users' presence changes go out through it.
    transport::subscribe_to_bus(bus, {caf::actor_cast<caf::actor>(roles.federation_sender), {}, true, "", "", true});
  }
  auto& restricted = cfg.outbound_federation_restricted_to;
  if (restricted.empty() || hosts(restricted))
    roles.federation_requests = [fc = federation.get()](const msg::federation_request& r) { return fc->send_here(r); };
  local = transport::make_local_transport(sys, roles);
  local_tr = local.get(); // the replication listener serves with this
  // Several instances: requests for roles hosted elsewhere go to their
  // owners (HTTP replication), rows from elsewhere arrive over pub/sub.
  if (cfg.redis.enabled || links.pubsub) {
    transport::pubsub_receiver_deps rd;
    rd.instance = name;
    // The bus's subscribers here (the publisher only takes our own).
    rd.subscribers = subscribers;
    if (roles.typing_writer) {
      rd.subscribers.push_back(
        {caf::actor_cast<caf::actor>(roles.typing_writer), {"m.room.member"}, false, "", ""});
      rd.caught_up_too.push_back(caf::actor_cast<caf::actor>(roles.typing_writer));
    }
    if (roles.federation_sender) {
      rd.subscribers.push_back({caf::actor_cast<caf::actor>(roles.federation_sender), {}, true, "", "", true});
      rd.caught_up_too.push_back(caf::actor_cast<caf::actor>(roles.federation_sender));
    }
    if (several_events_writers)
      for (auto& w : roles.events_writers)
        if (w) {
          rd.subscribers.push_back({caf::actor_cast<caf::actor>(w), {}, false, "", ""});
          rd.caught_up_too.push_back(caf::actor_cast<caf::actor>(w));
        }
    rd.notifier = roles.notifier;
    rd.shortcut = shortcut;
    rd.db_positions = [this] { return db_positions(); };
    if (several_events_writers) rd.events_writers = cfg.stream_writers.events;
    rd.invalidate = [this](const std::string& cache, const std::vector<std::string>& keys) {
      if (cache == "*") tokens.clear();
      else if (cache == "access_tokens")
        for (auto& k : keys) tokens.erase(k);
      else if (cache == "user_tokens")
        for (auto& k : keys) tokens.erase_user(k);
    };
    if (links.pubsub) {
      pubsub = links.pubsub(std::move(rd));
    } else {
      transport::redis_link_deps r;
      r.redis = cfg.redis;
      r.server_name = cfg.server_name;
      r.receiver = std::move(rd);
      pubsub = std::make_unique<transport::redis_link>(sys, std::move(r));
    }
    // Only what this instance's writers publish goes out.
    transport::subscribe_to_bus(bus, {pubsub->publisher(), {}, true, name, ""});
  }
  if (several) {
    auto remote = links.remote;
    if (!remote)
      remote = std::make_shared<transport::replication_client>(
        cfg.instance_map, cfg.worker_replication_secret,
        [c = http_client](msg::outbound_request r) { return c->call(std::move(r)); });
    transport::invalidator inv;
    if (pubsub)
      inv = [w = pubsub.get()](const std::string& c, const std::vector<std::string>& k) {
        w->invalidate(c, k);
      };
    routed = transport::make_routing_transport(cfg, name, std::move(local), remote, inv,
                                               [this] { return db_positions(); });
  }
  auto* tr = routed ? routed.get() : local.get();
  // outbound_federation_restricted_to without this instance: its federation
  // requests go through a listed one (the transport picks it).
  if (!restricted.empty() && !hosts(restricted))
    federation->set_relay([tr](const msg::federation_request& r) { return tr->send_federation_request(r); });
  // Several events writers: claims reach the database only lazily, so ask
  // each other writer where it is before serving anyone (one that is down is
  // waited for through its claims later).
  if (several_events_writers)
    for (auto& w : cfg.stream_writers.events) {
      if (w == name) continue;
      try {
        auto p = tr->events_writer_position(w);
        caf::anon_send(roles.notifier,
                       msg::stream_caught_up{static_cast<uint8_t>(stream_id::events), p, w});
      } catch (const matrix_error& e) {
        std::cerr << "axon: events writer " << w << ": " << e.what() << "\n";
      }
    }

  ctx.cfg = &cfg;
  ctx.pool = &pool;
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
  ctx.key = &key;
  ctx.federation = federation.get();
  ctx.keyring = keyring.get();
  federation_limiter = std::make_unique<federation::origin_limiter>(cfg.rc.federation);
  ctx.federation_limiter = federation_limiter.get();
  ctx.limiter = &limiter;
  ctx.tokens = &tokens;
  uia = std::make_unique<http::uia_sessions>(pool, *env);
  ctx.uia = uia.get();
  client_ips = std::make_unique<storage::client_ips>(pool, [e = env] { return e->now_ms(); });
  client_ips->start();
  ctx.client_ips = client_ips.get();
  ctx.env = env;
  ctx.replication_txns = replication_txns.get();
  if (cfg.serves_media()) {
    media = std::make_unique<media::media_repository>(cfg, pool, *env, federation.get());
    ctx.media = media.get();
    if (cfg.runs_media_jobs() &&
        (cfg.media.retention_local_ms || cfg.media.retention_remote_ms || cfg.media.url_preview_enabled))
      media_jobs = media::spawn_media_jobs(sys, media.get());
  }
  routes = client::all_routes();
}

std::vector<caf::actor> instance::impl::actors() const {
  std::vector<caf::actor> out;
  auto add = [&](const auto& handle) {
    if (handle) out.push_back(caf::actor_cast<caf::actor>(handle));
  };
  add(roles.notifier);
  add(liveness);
  add(bus);
  add(directory_updater);
  add(media_jobs);
  add(outbound);
  for (auto& w : roles.events_writers) add(w);
  add(roles.presence_writer);
  add(roles.account_data_writer);
  add(roles.push_rules_writer);
  add(roles.device_lists_writer);
  add(roles.typing_writer);
  add(roles.receipts_writer);
  add(roles.to_device_writer);
  add(roles.federation_sender);
  return out;
}

namespace {

/// Stops what `i` spawned, in an order that lets nothing use a part that is
/// gone: the pub/sub wire first (its thread hands rows to the actors), then
/// every actor, waited for (they use the stores and services).
void stop_all(instance::impl& i) {
  i.pubsub.reset();
  // Requests to other servers still out (a destination that is down) end
  // now: their callbacks hold actors, which would otherwise outlive the
  // actor system's wait for its detached threads.
  if (i.http_client) i.http_client->stop();
  auto all = i.actors();
  caf::scoped_actor self{i.sys};
  for (auto& a : all) {
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (size_t n = 0; n < all.size(); ++n) {
    if (i.before_receive) i.before_receive(self.ptr());
    self->receive([](const caf::down_msg&) {});
  }
}

} // namespace

instance::instance(const config::homeserver_config& cfg, caf::actor_system& sys,
                   storage::pool& pool, const matrix::signing_key& key, instance_links links)
  : impl_(std::make_unique<impl>(cfg, sys, pool)) {
  try {
    impl_->start(key, std::move(links));
  } catch (...) {
    stop_all(*impl_);
    throw;
  }
}

instance::~instance() { stop_all(*impl_); }

http::server_context& instance::context() { return impl_->ctx; }

const std::vector<http::route>& instance::routes() const { return impl_->routes; }

notifier_actor instance::notifier() const { return impl_->roles.notifier; }

size_t instance::long_polls_waiting() const {
  return impl_->roles.waits.waiting ? impl_->roles.waits.waiting() : 0;
}
http_client_actor instance::http_client() const { return impl_->outbound; }

} // namespace axon::boot
