// tests/sim/sim.cpp -- the placement simulation (README.md beside this file).
//
// One seed: a random placement of every role over 1..5 instances (1..4
// events writers), all in this process on CAF's deterministic test
// coordinator, one SQLite database, a simulated network (replication
// requests through each instance's real replication endpoint; pub/sub with
// Redis's guarantees) and a simulated clock and randomness. Simulated
// clients register, create rooms, join, send and sync through random
// instances while the seed injects faults; then the faults stop and the
// invariants are checked, and compared with the same workload on one
// instance. One thread runs everything, so a seed replays exactly.
//
// Request code blocks (handlers wait for writers); in the simulation the
// wait runs the coordinator until the reply is there
// (local_roles::before_receive), advancing simulated time to the next
// timeout when nothing can run. One client request is in flight at a time;
// actors, replication and pub/sub interleave under the seed.
#include "actors/boot/instance.hpp"
#include "actors/http/http_server.hpp"
#include "actors/http/router.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "matrix/environment.hpp"
#include "matrix/stream_token.hpp"
#include "storage/database.hpp"
#include "storage/stores/events_store.hpp"
#include "transport/pubsub.hpp"
#include "transport/replication_client.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdlib>
#include <unistd.h>
#include <filesystem>
#include <iostream>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace axon::sim {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---- constants -------------------------------------------------------------------

const std::string server = "sim.test";
const std::string secret = "sim-replication-secret";
constexpr int64_t epoch_ms = 1'700'000'000'000;

// ---- the run's clock, randomness and trace ---------------------------------------

/// Thrown when the run breaks an invariant or hangs.
struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class sim_env final : public matrix::environment {
public:
  sim_env(caf::scheduler::test_coordinator& sched, uint64_t seed) : sched_(sched), rng_(seed) {}
  int64_t now_ms() override {
    using namespace std::chrono;
    return epoch_ms +
           duration_cast<milliseconds>(sched_.clock().now().time_since_epoch()).count();
  }
  uint32_t uniform(uint32_t upper) override {
    return std::uniform_int_distribution<uint32_t>(0, upper - 1)(rng_);
  }

private:
  caf::scheduler::test_coordinator& sched_;
  std::mt19937_64 rng_;
};

struct trace_log {
  bool echo = false;
  std::vector<std::string> lines;
  void operator()(const std::string& line) {
    lines.push_back(line);
    if (echo) std::cout << "  " << line << "\n";
  }
};

// ---- the world -----------------------------------------------------------------------

class world;

/// One instance: its config, its assembled parts, and what the network
/// knows about it.
struct node {
  std::string name;
  config::homeserver_config cfg;
  std::unique_ptr<boot::instance> inst;
  std::unique_ptr<http::router> client, replication;
  std::unique_ptr<transport::pubsub_receiver> receiver;
  bool connected = true; ///< to pub/sub
  int generation = 0;    ///< restarts so far
};

using deliver_atom = caf::atom_constant<caf::atom("deliver")>;

/// Deliberately broken variants the simulation must catch (--break).
enum class breakage { none, drop_row, skip_gap };

/// A receiver whose catch-up skips a gap (--break skip-gap).
class gap_skipping_receiver final : public transport::pubsub_receiver {
public:
  using pubsub_receiver::pubsub_receiver;

protected:
  void gap(const std::string&, size_t, int64_t) override {}
};

class world {
public:
  world(uint64_t seed, bool one_instance, bool faults, trace_log& trace,
        breakage broken = breakage::none)
    : seed_(seed), faults_(faults), broken_(broken), trace_(trace), rng_(seed) {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    cfg_.set("logger.console", caf::atom("none"));
    register_message_types(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    env_ = std::make_unique<sim_env>(*sched_, seed * 7919 + 1);
    dir_ = fs::temp_directory_path() / ("axon-sim-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    storage::database_options o;
    o.kind = storage::engine_kind::sqlite;
    o.sqlite_path = (dir_ / "sim.db").string();
    o.max_connections = 4;
    pool_ = storage::open_pool(o);
    storage::run_migrations(*pool_);
    key_ = *matrix::signing_key::from_seed("a_sim", std::string(32, 'k'));
    net_ = sys_->spawn([this](caf::event_based_actor*) -> caf::behavior {
      return {[this](deliver_atom, const std::string& from, const std::string& to) {
        deliver_next(from, to);
      }};
    });
    place(one_instance);
    for (auto& n : nodes_) start(*n);
  }

  ~world() {
    try {
      for (auto& n : nodes_) n->inst.reset();
    } catch (const std::exception& e) {
      std::cerr << "sim: stopping an instance: " << e.what() << "\n";
    }
    if (liveness_) caf::anon_send_exit(liveness_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(net_, caf::exit_reason::user_shutdown);
    // Whatever is still scheduled (timers, late replies) runs out.
    for (int i = 0; i < 1000 && (sched_->has_job() || sched_->has_pending_timeout()); ++i) {
      sched_->run();
      sched_->trigger_timeouts();
    }
    pool_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string describe() const { return layout_; }
  std::mt19937_64& rng() { return rng_; }
  size_t size() const { return nodes_.size(); }
  node& at(size_t i) { return *nodes_.at(i); }
  trace_log& trace() { return trace_; }
  /// Called after every client request (the workload's checks).
  std::function<void()> after_request;
  caf::actor_system& system() { return *sys_; }
  /// Simulated milliseconds since the start.
  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             sched_->clock().now().time_since_epoch())
      .count();
  }

  /// Runs the coordinator until `self` has mail; advances simulated time to
  /// the next timeout when nothing can run.
  void pump(caf::blocking_actor* self) {
    for (size_t steps = 0; self->mailbox().empty(); ++steps) {
      if (steps > 5'000'000) throw failure("the coordinator never settles (live lock)");
      if (sched_->try_run_once()) continue;
      if (!sched_->has_pending_timeout()) throw failure("deadlock: a request waits and nothing can run");
      advance_to_next_timeout();
    }
  }

  /// Runs everything runnable now.
  void settle() { sched_->run(); }

  /// Lets `ms` of simulated time pass, running what falls due.
  void pass(int64_t ms) {
    auto until = sched_->clock().now() + std::chrono::milliseconds(ms);
    sched_->run();
    while (sched_->has_pending_timeout()) {
      auto next = sched_->clock().schedule().begin()->first;
      if (next > until) break;
      advance_to_next_timeout();
      sched_->run();
    }
    if (sched_->clock().now() < until) sched_->advance_time(until - sched_->clock().now());
    sched_->run();
  }

  /// A client request to instance `i`.
  std::pair<int, json> request(size_t i, const std::string& method, const std::string& uri,
                               const json& body, const std::string& token) {
    auto& n = *nodes_.at(i);
    http::incoming in;
    in.method = method;
    in.uri = uri;
    in.remote_addr = "10.0.0.1";
    if (!token.empty()) in.authorization = "Bearer " + token;
    auto text = body.is_null() ? std::string() : body.dump();
    in.read_body = [text](std::string& b) { b = text; };
    auto out = http::dispatch(*n.client, &n.inst->context(), in);
    settle();
    if (after_request) after_request();
    return out;
  }

  /// A replication request from `from` to instance `to` over the
  /// simulated network.
  transport::replication_reply replicate(const std::string& from, const std::string& to,
                                         const std::string& wire_name, const json& request,
                                         const std::vector<int64_t>& positions) {
    auto* n = find(to);
    if (!n || !n->inst) throw matrix_error(errc::unavailable, "instance " + to + " is not reachable");
    if (faults_ && chance(0.02)) {
      trace_("net: " + from + " -> " + to + " " + wire_name + ": refused");
      throw matrix_error(errc::unavailable, "instance " + to + " is not reachable (simulated)");
    }
    http::incoming in;
    in.method = "POST";
    in.uri = "/_axon/replication/" + wire_name;
    in.remote_addr = "10.0.1.1";
    in.authorization = "Bearer " + secret;
    auto body = transport::replication_body(txn(), request, positions);
    in.read_body = [body](std::string& b) { b = body; };
    auto [status, answer] = http::dispatch(*n->replication, &n->inst->context(), in);
    trace_("net: " + from + " -> " + to + " " + wire_name + ": " + std::to_string(status));
    if (faults_ && chance(0.02)) {
      trace_("net: " + to + " -> " + from + " " + wire_name + ": answer lost");
      throw matrix_error(errc::timeout, "instance " + to + " did not answer in time (simulated)");
    }
    return transport::replication_answer(to, status, std::move(answer));
  }

  /// Pub/sub: `from`'s message to every other connected instance, in order.
  /// Pub/sub: `from`'s message to every other connected instance, in order
  /// per publisher. Faults: some messages take up to 50 ms (and the ones
  /// behind them wait their turn), so rows may come after a replication
  /// answer or another publisher's later rows; now and then one is lost on
  /// the way to a connected instance (a Redis that drops a slow
  /// subscriber's output), besides everything lost while disconnected.
  void publish(const std::string& from, const std::string& payload) {
    auto sent = payload;
    if (broken_ == breakage::drop_row && chance(0.2)) sent = drop_a_row(from, payload);
    for (auto& n : nodes_) {
      if (n->name == from || !n->receiver) continue;
      if (!n->connected) {
        trace_("pubsub: " + from + " -> " + n->name + ": dropped (disconnected)");
        continue;
      }
      auto key = std::make_pair(from, n->name);
      auto& q = in_flight_[key];
      if (faults_ && (!q.empty() || chance(0.3))) {
        q.push_back({sent, n->generation});
        auto now = sched_->clock().now();
        auto due = std::max(now + std::chrono::milliseconds(1 + pick(50)), last_due_[key]);
        last_due_[key] = due;
        caf::delayed_anon_send(net_, due - now, deliver_atom::value, from, n->name);
        continue;
      }
      deliver(from, *n, sent);
    }
  }

  /// The next message in flight from `from` to `to` arrives.
  void deliver_next(const std::string& from, const std::string& to) {
    auto& q = in_flight_[{from, to}];
    if (q.empty()) return;
    auto m = std::move(q.front());
    q.pop_front();
    auto* n = find(to);
    if (!n || !n->receiver || !n->connected || n->generation != m.generation) {
      trace_("pubsub: " + from + " -> " + to + ": dropped (disconnected)");
      return;
    }
    deliver(from, *n, m.payload);
  }

  void deliver(const std::string& from, node& n, const std::string& payload) {
    // Heartbeats are spared, so that a loss shows within one (run()).
    if (faults_ && payload.find("\"k\":\"pos\"") == std::string::npos && chance(0.1)) {
      trace_("pubsub: " + from + " -> " + n.name + ": lost");
      for (auto& row : events_rows(payload)) lost_rooms_[{from, n.name}].rows.push_back(row);
      return;
    }
    if (trace_.echo) trace_("pubsub: " + from + " -> " + n.name + ": " + summary(payload));
    n.receiver->message(payload);
    // The writer's next events message shows the gap: its receiver must
    // catch up (checked once it has run, take_exposed_gaps).
    auto lost = lost_rooms_.find({from, n.name});
    if (lost != lost_rooms_.end() && is_events(payload)) {
      exposed_.push_back({index_of(n), from, writer_index(from), std::move(lost->second.rows)});
      lost_rooms_.erase(lost);
    }
  }

  /// A pub/sub message in a trace line: its kind, position and rows' rooms.
  static std::string summary(const std::string& payload) {
    auto j = json::parse(payload, nullptr, false);
    if (!j.is_object()) return "?";
    auto kind = j.value("k", "");
    std::string out = kind;
    if (kind == "events" || kind == "stream") {
      auto& m = j["m"];
      if (kind == "stream") {
        out += " ";
        out += stream_name(static_cast<stream_id>(m.value("stream", 0)));
      }
      out += " pos " + std::to_string(m.value("pos", int64_t{0})) + " prev " +
             std::to_string(j.value("prev", int64_t{-1}));
      for (auto& r : m["rows"]) out += " " + r.value("room_id", "") + "@" + std::to_string(r.value("pos", int64_t{0}));
    } else if (kind == "pos") {
      out += " " + j["pos"].dump();
    }
    return out;
  }

  /// Rows lost on their way to an instance whose sender's next events
  /// message has reached it since: it knows of the gap.
  struct exposed_gap {
    size_t node;
    std::string from;
    int writer; ///< `from`'s index among the events writers (-1: one writer)
    std::vector<std::pair<std::string, int64_t>> rows; ///< (room id, position) lost
  };
  std::vector<exposed_gap> take_exposed_gaps() { return std::exchange(exposed_, {}); }

  static bool is_events(const std::string& payload) {
    return payload.find("\"k\":\"events\"") != std::string::npos;
  }
  /// An events message's rows: (room id, position).
  static std::vector<std::pair<std::string, int64_t>> events_rows(const std::string& payload) {
    std::vector<std::pair<std::string, int64_t>> out;
    if (!is_events(payload)) return out;
    auto j = json::parse(payload, nullptr, false);
    if (j.is_object() && j.contains("m") && j["m"].contains("rows"))
      for (auto& r : j["m"]["rows"]) out.emplace_back(r.value("room_id", ""), r.value("pos", int64_t{0}));
    return out;
  }
  /// `name`'s index among several events writers; -1 with one.
  int writer_index(const std::string& name) const {
    auto& writers = nodes_.front()->cfg.stream_writers.events;
    if (writers.size() < 2) return -1;
    for (size_t i = 0; i < writers.size(); ++i)
      if (writers[i] == name) return static_cast<int>(i);
    return -1;
  }
  size_t index_of(const node& n) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].get() == &n) return i;
    return 0;
  }
  /// Forgets losses that a reconnect or a restart covers otherwise.
  void forget_losses(const std::string& name) {
    for (auto i = lost_rooms_.begin(); i != lost_rooms_.end();)
      i = (i->first.first == name || i->first.second == name) ? lost_rooms_.erase(i) : std::next(i);
  }

  /// --break drop-row: the writer's message without one of its events rows.
  std::string drop_a_row(const std::string& from, const std::string& payload) {
    auto j = json::parse(payload, nullptr, false);
    if (!j.is_object() || j.value("k", "") != "events") return payload;
    auto& rows = j["m"]["rows"];
    if (!rows.is_array() || rows.empty()) return payload;
    rows.erase(rows.begin() + static_cast<std::ptrdiff_t>(pick(rows.size())));
    trace_("broken: " + from + " publishes its events without one row");
    return j.dump();
  }

  /// Faults the seed chooses between client requests.
  void maybe_fault() {
    if (!faults_ || nodes_.size() < 2) return;
    if (chance(0.05)) {
      auto& n = *nodes_[pick(nodes_.size())];
      if (n.connected) {
        n.connected = false;
        // What was on its way to it is lost with the connection.
        for (auto& [key, q] : in_flight_)
          if (key.second == n.name) q.clear();
        trace_("fault: " + n.name + " loses pub/sub");
      }
    }
    for (auto& n : nodes_)
      if (!n->connected && chance(0.3)) reconnect(*n);
    if (chance(0.01)) pass(static_cast<int64_t>(pick(3000)));
    if (chance(0.01)) restart(*nodes_[pick(nodes_.size())]);
  }

  /// An instance crashes and starts again: everything in its memory is
  /// lost, the database is kept.
  void restart(node& n) {
    trace_("fault: " + n.name + " crashes and restarts");
    n.inst.reset();
    n.receiver.reset();
    n.connected = true;
    ++n.generation;
    forget_losses(n.name);
    settle();
    start(n);
  }

  /// The faults stop: every instance is connected again.
  void heal() {
    for (auto& n : nodes_)
      if (!n->connected) reconnect(*n);
    pass(6000); // heartbeats, claims and catch-up
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

private:
  node* find(const std::string& name) {
    for (auto& n : nodes_)
      if (n->name == name) return n.get();
    return nullptr;
  }

  std::string txn() { return "t" + std::to_string(next_txn_++); }

  void advance_to_next_timeout() {
    auto next = sched_->clock().schedule().begin()->first;
    auto now = sched_->clock().now();
    if (next > now) sched_->advance_time(next - now);
    else sched_->trigger_timeout();
  }

  void reconnect(node& n) {
    n.connected = true;
    forget_losses(n.name);
    trace_("fault: " + n.name + " gets pub/sub back");
    if (n.receiver) n.receiver->connected();
  }

  /// A random placement of every role (or everything on "main").
  void place(bool one_instance) {
    size_t count = one_instance ? 1 : 1 + pick(5);
    std::vector<std::string> names{"main"};
    for (size_t i = 1; i < count; ++i) names.push_back("w" + std::to_string(i));
    config::homeserver_config shared;
    shared.server_name = server;
    shared.database.name = "sqlite3";
    shared.enable_registration = true;
    shared.enable_registration_without_verification = true;
    shared.worker_replication_secret = secret;
    shared.presence_enabled = false;
    for (auto* rl : {&shared.rc.message, &shared.rc.registration, &shared.rc.login_address,
                     &shared.rc.login_account, &shared.rc.login_failed_attempts,
                     &shared.rc.joins_local, &shared.rc.joins_remote, &shared.rc.invites_per_room,
                     &shared.rc.invites_per_user})
      *rl = {1e9, 1000000000};
    if (count > 1)
      for (auto& n : names) shared.instance_map[n] = config::instance_location{};
    // Events writers: a random non-empty subset, in a random order.
    auto shuffled = names;
    std::shuffle(shuffled.begin(), shuffled.end(), rng_);
    size_t writers = 1 + pick(std::min<size_t>(4, count));
    shared.stream_writers.events.assign(shuffled.begin(), shuffled.begin() + writers);
    for (auto& stream : config::stream_writers_config::stream_names()) {
      if (stream == "events") continue;
      *shared.stream_writers.find(stream) = {names[pick(count)]};
    }
    shared.update_user_directory_from_worker = names[pick(count)];
    std::ostringstream d;
    d << count << " instance(s); events:";
    for (auto& w : shared.stream_writers.events) d << " " << w;
    for (auto& stream : config::stream_writers_config::stream_names())
      if (stream != "events") d << "; " << stream << ": " << shared.stream_writers.find(stream)->front();
    layout_ = d.str();
    for (auto& name : names) {
      auto n = std::make_unique<node>();
      n->name = name;
      n->cfg = shared;
      if (name != "main") {
        n->cfg.worker_app = "generic_worker";
        n->cfg.worker_name = name;
      }
      nodes_.push_back(std::move(n));
    }
  }

  void start(node& n) {
    boot::instance_links links;
    links.env = env_.get();
    links.before_receive = [this](caf::blocking_actor* self) { pump(self); };
    if (nodes_.size() > 1) {
      struct remote final : transport::remote_calls {
        world* w;
        std::string from;
        transport::replication_reply call(const std::string& instance, const std::string& wire_name,
                                          const json& request,
                                          const std::vector<int64_t>& positions) override {
          return w->replicate(from, instance, wire_name, request, positions);
        }
      };
      auto r = std::make_shared<remote>();
      r->w = this;
      r->from = n.name;
      links.remote = r;
      links.pubsub = [this, &n](transport::pubsub_receiver_deps deps) {
        struct wire final : transport::pubsub_wire {
          caf::actor pub;
          ~wire() override { caf::anon_send_exit(pub, caf::exit_reason::user_shutdown); }
          caf::actor publisher() const override { return pub; }
          void invalidate(const std::string& cache, const std::vector<std::string>& keys) override {
            transport::publish_invalidation(pub, cache, keys);
          }
        };
        auto w = std::make_unique<wire>();
        w->pub = transport::spawn_pubsub_publisher(
          *sys_, n.name, [this, name = n.name](const std::string& p) { publish(name, p); }, false);
        if (broken_ == breakage::skip_gap)
          n.receiver = std::make_unique<gap_skipping_receiver>(std::move(deps));
        else
          n.receiver = std::make_unique<transport::pubsub_receiver>(std::move(deps));
        n.receiver->connected();
        return std::unique_ptr<transport::pubsub_wire>(std::move(w));
      };
      links.liveness = liveness();
    }
    n.inst = std::make_unique<boot::instance>(n.cfg, *sys_, *pool_, key_, links);
    n.client = std::make_unique<http::router>(n.inst->routes(), std::vector<std::string>{"client"});
    n.replication =
      std::make_unique<http::router>(n.inst->routes(), std::vector<std::string>{"replication"});
    settle();
  }

  /// Which events writers run: those whose instance is up.
  writer_liveness_actor liveness() {
    if (!liveness_)
      liveness_ = sys_->spawn([this](writer_liveness_actor::pointer)
                                -> writer_liveness_actor::behavior_type {
        return {
          [this](const msg::check_events_writers& req) {
            msg::events_writers_status out;
            storage::events_store store(*pool_);
            auto recorded = store.writer_positions();
            for (auto& w : req.writers) {
              auto* n = find(w);
              if (n && n->inst) out.running.push_back(w);
              auto i = recorded.find(w);
              out.recorded.push_back(i == recorded.end() ? 0 : i->second);
            }
            return out;
          },
        };
      });
    return liveness_;
  }

  uint64_t seed_;
  bool faults_;
  breakage broken_;
  struct losses {
    std::vector<std::pair<std::string, int64_t>> rows;
  };
  std::map<std::pair<std::string, std::string>, losses> lost_rooms_;
  struct in_flight {
    std::string payload;
    int generation; ///< of the receiving instance
  };
  /// (from, to) -> messages on their way, and when the last one arrives.
  std::map<std::pair<std::string, std::string>, std::deque<in_flight>> in_flight_;
  std::map<std::pair<std::string, std::string>, caf::actor_clock::time_point> last_due_;
  caf::actor net_; ///< delivers delayed pub/sub messages
  std::vector<exposed_gap> exposed_;
  trace_log& trace_;
  std::mt19937_64 rng_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::unique_ptr<sim_env> env_;
  fs::path dir_;
  std::unique_ptr<storage::pool> pool_;
  matrix::signing_key key_;
  std::vector<std::unique_ptr<node>> nodes_;
  writer_liveness_actor liveness_;
  std::string layout_;
  uint64_t next_txn_ = 0;
};

// ---- simulated clients -------------------------------------------------------------------

std::string enc(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct client {
  std::string user_id, token;
  std::string since; ///< last next_batch
  std::vector<matrix::stream_token> tokens;
  /// room index -> message bodies this client's /sync delivered, in order.
  std::map<size_t, std::vector<std::string>> seen;
  std::string device_id;
  /// The to-device messages this client's /sync delivered, in order.
  std::vector<std::string> to_device;
};

/// What one run leaves for comparison: per room (by creation order), the
/// message bodies every reader sees, in order.
struct outcome {
  std::vector<std::vector<std::string>> rooms;
  std::vector<std::vector<std::string>> to_device; ///< per client, as delivered
  /// Per room: user index -> the message body their m.read receipt is on.
  std::vector<std::map<size_t, std::string>> receipts;
};

const std::string api = "/_matrix/client/v3";

/// Every request gets a status and a JSON body; an error is a Matrix error.
json expect_ok(world& w, std::pair<int, json> r, const std::string& what) {
  auto& [status, body] = r;
  if (status != 200) {
    if (!body.is_object() || !body.contains("errcode"))
      throw failure(what + ": status " + std::to_string(status) + " without a Matrix error");
    w.trace()(what + ": " + std::to_string(status) + " " + body.value("errcode", ""));
    return json();
  }
  return body;
}

/// Retries (same transaction id) until the request succeeds; the server
/// must never lose or duplicate it.
json until_ok(world& w, size_t instance, const std::string& method, const std::string& uri,
              const json& body, const std::string& token, const std::string& what) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto out = expect_ok(w, w.request(instance, method, uri, body, token), what);
    if (!out.is_null()) return out;
    w.maybe_fault(); // faults come and go while the client retries
    w.pass(100);
  }
  throw failure(what + ": still failing after 50 tries");
}

std::vector<std::string> bodies_of(const json& events) {
  std::vector<std::string> out;
  for (auto& e : events)
    if (e.value("type", "") == "m.room.message") out.push_back(e["content"].value("body", ""));
  return out;
}

void sync_once(world& w, client& c, const std::vector<std::string>& rooms, size_t instance) {
  std::string uri = api + "/sync?timeout=0&filter=" +
                    enc(R"({"room":{"timeline":{"limit":1000}}})");
  if (!c.since.empty()) uri += "&since=" + enc(c.since);
  auto out = expect_ok(w, w.request(instance, "GET", uri, json(), c.token), "sync " + c.user_id);
  if (out.is_null()) return;
  auto next = out.value("next_batch", "");
  auto tok = matrix::parse_stream_token(next);
  if (!tok) throw failure("sync " + c.user_id + ": next_batch " + next + " is not a token");
  if (!c.tokens.empty()) {
    auto& prev = c.tokens.back();
    bool back = tok->events < prev.events;
    for (size_t i = 0; i < prev.others.size() && i < tok->others.size(); ++i)
      back |= tok->others[i] < prev.others[i];
    // Each events writer's position (its entry, or the lowest).
    auto at = [](const matrix::stream_token& t, int64_t id) {
      auto p = t.events;
      for (auto& [w, q] : t.writers)
        if (w == id) p = std::max(p, q);
      return p;
    };
    for (auto& [id, p] : prev.writers) back |= at(*tok, id) < p;
    if (back) throw failure("sync " + c.user_id + ": token went backwards: " + c.since + " -> " + next);
  }
  c.tokens.push_back(*tok);
  c.since = next;
  if (auto td = out.find("to_device"); td != out.end())
    for (auto& e : (*td)["events"])
      if (e.value("type", "") == "sim.test") c.to_device.push_back(e["content"].value("n", ""));
  auto joined = out["rooms"]["join"];
  for (size_t r = 0; r < rooms.size(); ++r) {
    auto i = joined.find(rooms[r]);
    if (i == joined.end()) continue;
    if ((*i)["timeline"].value("limited", false) && !c.seen[r].empty())
      throw failure("sync " + c.user_id + ": limited timeline with a limit above the traffic");
    for (auto& b : bodies_of((*i)["timeline"]["events"])) c.seen[r].push_back(b);
  }
}

/// A long-poll as /sync makes it, straight to an instance's notifier: one
/// per instance and room is kept waiting while clients send. Every one that
/// was waiting when a send into its room was acknowledged must be woken by
/// the end (once faults stop), unless its instance crashed meanwhile.
struct watcher {
  size_t node;
  int generation;
  size_t room;
  int64_t since_ms;
  std::vector<int64_t> since; ///< the positions it waits past
  std::unique_ptr<caf::scoped_actor> self;
  bool must_wake = false;
  std::string why; ///< the first acknowledged send it must wake for

  bool woken() { return !(*self)->mailbox().empty(); }
};

constexpr int64_t watch_timeout_ms = 3'600'000;

/// Keeps a waiting watcher on every instance for `room`.
void watch(world& w, std::vector<watcher>& all, size_t room, const std::string& room_id) {
  for (size_t i = 0; i < w.size(); ++i) {
    auto& n = w.at(i);
    if (!n.inst) continue;
    bool waiting = false;
    for (auto& x : all)
      if (x.node == i && x.room == room && x.generation == n.generation && !x.woken()) waiting = true;
    if (waiting) continue;
    auto since = n.inst->context().transport->positions();
    watcher x{i, n.generation, room, w.now_ms(), since,
              std::make_unique<caf::scoped_actor>(w.system()), false, ""};
    (*x.self)->send(n.inst->notifier(),
                    msg::wait_for_updates{"@watcher:" + server, since, {room_id}, watch_timeout_ms});
    all.push_back(std::move(x));
  }
  w.settle();
}

/// A send into `room` was acknowledged: whoever waits on it must wake.
void must_wake(world& w, std::vector<watcher>& all, size_t room, const std::string& what) {
  for (auto& x : all)
    if (x.room == room && x.generation == w.at(x.node).generation && !x.must_wake && !x.woken()) {
      x.must_wake = true;
      x.why = what;
    }
}

/// An instance that received a writer's events message after losing an
/// earlier one knows of the gap: everyone waiting in the lost rows' rooms
/// there has woken (the rows are in the database).
void check_gaps(world& w, std::vector<watcher>& all, const std::vector<std::string>& rooms) {
  for (auto& gap : w.take_exposed_gaps())
    for (auto& x : all) {
      if (x.node != gap.node || x.generation != w.at(x.node).generation || x.woken()) continue;
      // Lost rows in its room that it had not seen.
      bool concerned = false;
      for (auto& [room, pos] : gap.rows)
        concerned |= room == rooms.at(x.room) && pos > events_bound(x.since, gap.writer);
      if (concerned)
        throw failure("a /sync waiting on " + w.at(x.node).name + " in room " +
                      std::to_string(x.room) + " did not wake after a gap in " + gap.from +
                      "'s messages");
    }
}

/// The workload, driven by the seed; returns what every reader must see.
outcome run(world& w, uint64_t seed) {
  std::mt19937_64 load(seed * 31 + 7); // the workload's own randomness: the same in every layout
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(load); };
  auto inst = [&] { return w.pick(w.size()); };
  size_t users = 2 + pick(3), room_count = 1 + pick(3), steps = 20 + pick(40);
  std::vector<client> clients;
  for (size_t u = 0; u < users; ++u) {
    auto out = until_ok(w, inst(), "POST", api + "/register",
                        {{"username", "u" + std::to_string(u)}, {"password", "sim-password-1"},
                         {"auth", {{"type", "m.login.dummy"}}}},
                        "", "register u" + std::to_string(u));
    clients.push_back(
      {out.value("user_id", ""), out.value("access_token", ""), "", {}, {}, out.value("device_id", ""), {}});
  }
  std::vector<std::string> rooms;
  std::vector<std::set<size_t>> members(room_count);
  for (size_t r = 0; r < room_count; ++r) {
    size_t creator = pick(users);
    auto out = until_ok(w, inst(), "POST", api + "/createRoom", {{"preset", "public_chat"}},
                        clients[creator].token, "createRoom " + std::to_string(r));
    rooms.push_back(out.value("room_id", ""));
    members[r].insert(creator);
  }
  for (size_t u = 0; u < users; ++u)
    for (size_t r = 0; r < room_count; ++r)
      if (!members[r].count(u) && pick(3) != 0) {
        until_ok(w, inst(), "POST", api + "/join/" + enc(rooms[r]), json::object(),
                 clients[u].token, "join " + std::to_string(r));
        members[r].insert(u);
      }
  for (auto& c : clients) sync_once(w, c, rooms, inst());
  size_t sent = 0;
  std::vector<std::vector<std::string>> acked(room_count); // in the order they were answered
  std::vector<watcher> watchers;
  size_t to_device_sent = 0;
  std::vector<std::pair<std::string, std::string>> last_event(room_count); // (event id, body)
  std::vector<std::map<size_t, std::string>> receipts_acked(room_count);
  std::map<std::string, std::string> event_bodies; // event id -> body
  std::vector<std::vector<std::string>> to_device_acked(users); // per recipient, in order
  w.take_exposed_gaps(); // before any watcher
  w.after_request = [&] { check_gaps(w, watchers, rooms); };
  for (size_t step = 0; step < steps; ++step) {
    w.maybe_fault();
    auto what = pick(12);
    size_t u = pick(users);
    if (what < 6) {
      std::vector<size_t> mine;
      for (size_t r = 0; r < room_count; ++r)
        if (members[r].count(u)) mine.push_back(r);
      if (mine.empty()) continue;
      size_t r = mine[pick(mine.size())];
      auto body = "m" + std::to_string(sent++);
      watch(w, watchers, r, rooms[r]);
      auto answer = until_ok(w, inst(), "PUT",
                             api + "/rooms/" + enc(rooms[r]) + "/send/m.room.message/" + body,
                             {{"msgtype", "m.text"}, {"body", body}}, clients[u].token, "send " + body);
      acked[r].push_back(body);
      last_event[r] = {answer.value("event_id", ""), body};
      event_bodies[answer.value("event_id", "")] = body;
      must_wake(w, watchers, r, body);
      // Every other send, time for a heartbeat: whoever waits in a room
      // with an acknowledged send since, on an instance connected to
      // pub/sub, has woken by then. (The other sends follow at once: a lost
      // row is then followed by its writer's next message, not by a
      // heartbeat, and only the gap shows it.)
      if (w.chance(0.5)) {
        w.pass(6000);
        check_gaps(w, watchers, rooms);
        for (auto& x : watchers)
          if (x.must_wake && x.generation == w.at(x.node).generation && w.at(x.node).connected &&
              !x.woken())
            throw failure("a /sync waiting on " + w.at(x.node).name + " in room " +
                          std::to_string(x.room) + " did not wake within 6 s of " + x.why);
      }
    } else if (what < 9) {
      sync_once(w, clients[u], rooms, inst());
    } else if (what == 11) {
      // A read receipt on the newest message of one of the user's rooms.
      std::vector<size_t> mine;
      for (size_t r = 0; r < room_count; ++r)
        if (members[r].count(u) && !last_event[r].first.empty()) mine.push_back(r);
      if (mine.empty()) continue;
      size_t r = mine[pick(mine.size())];
      until_ok(w, inst(), "POST",
               api + "/rooms/" + enc(rooms[r]) + "/receipt/m.read/" + enc(last_event[r].first),
               json::object(), clients[u].token, "receipt on " + last_event[r].second);
      receipts_acked[r][u] = last_event[r].second;
    } else if (what == 10) {
      // A to-device message to another user's device (the same
      // transaction id on every retry: sent once).
      size_t v = pick(users);
      auto n = "d" + std::to_string(to_device_sent++);
      json messages = {{clients[v].user_id, {{clients[v].device_id, {{"n", n}}}}}};
      until_ok(w, inst(), "PUT", api + "/sendToDevice/sim.test/" + n, {{"messages", messages}},
               clients[u].token, "sendToDevice " + n);
      to_device_acked[v].push_back(n);
    } else {
      until_ok(w, inst(), "PUT",
               api + "/user/" + enc(clients[u].user_id) + "/account_data/sim.counter",
               {{"step", step}}, clients[u].token, "account_data");
    }
  }
  w.heal();
  check_gaps(w, watchers, rooms);
  w.after_request = nullptr;

  // Every long-poll waiting when a send into its room was acknowledged
  // woke (before its timeout), on every instance that did not crash.
  for (auto& x : watchers) {
    if (!x.must_wake || x.generation != w.at(x.node).generation) continue;
    if (w.now_ms() >= x.since_ms + watch_timeout_ms)
      throw failure("simulated time ran past an hour: something waited that long");
    if (!x.woken())
      throw failure("a /sync waiting on " + w.at(x.node).name + " in room " +
                    std::to_string(x.room) + " never woke for " + x.why);
  }

  // Invariants: every instance's /messages of a room is the same list,
  // without duplicates; each client's /sync delivered exactly that list from
  // where it started (its first sync saw the room's history up to then).
  outcome result;
  for (size_t r = 0; r < room_count; ++r) {
    std::optional<std::vector<std::string>> reference;
    for (size_t i = 0; i < w.size(); ++i) {
      auto out = until_ok(w, i, "GET", api + "/rooms/" + enc(rooms[r]) + "/messages?dir=f&limit=1000",
                          json(), clients[*members[r].begin()].token, "messages");
      auto list = bodies_of(out["chunk"]);
      std::set<std::string> unique(list.begin(), list.end());
      if (unique.size() != list.size())
        throw failure("room " + std::to_string(r) + ": an event twice in /messages on " + w.at(i).name);
      if (!reference) reference = list;
      else if (*reference != list)
        throw failure("room " + std::to_string(r) + ": /messages differs between instances");
    }
    // Sends are answered one after the other: each acknowledged event is
    // there once, in the order of the answers, and nothing else is.
    if (*reference != acked[r])
      throw failure("room " + std::to_string(r) + ": /messages is not the acknowledged sends (" +
                    std::to_string(reference->size()) + " events, " +
                    std::to_string(acked[r].size()) + " acknowledged)");
    result.rooms.push_back(*reference);
  }
  for (auto& c : clients) {
    // Converge: sync through every instance until nothing new comes.
    for (size_t i = 0; i < w.size(); ++i) sync_once(w, c, rooms, i);
    for (size_t r = 0; r < room_count; ++r) {
      if (!members[r].count(static_cast<size_t>(&c - &clients[0]))) continue;
      if (c.seen[r] != result.rooms[r])
        throw failure(c.user_id + "'s /sync of room " + std::to_string(r) +
                      " is not the room's history (missing, repeated or out of order)");
    }
    // Every acknowledged to-device message reached the device once, in order.
    auto& want = to_device_acked[static_cast<size_t>(&c - &clients[0])];
    if (c.to_device != want)
      throw failure(c.user_id + "'s /sync delivered " + std::to_string(c.to_device.size()) +
                    " to-device messages, not the " + std::to_string(want.size()) +
                    " acknowledged ones once each in order");
    result.to_device.push_back(c.to_device);
  }
  // Every instance's initial /sync shows each user's last acknowledged read
  // receipt in each room.
  for (size_t r = 0; r < room_count; ++r) {
    auto& reader = clients[*members[r].begin()];
    for (size_t i = 0; i < w.size(); ++i) {
      auto out = until_ok(w, i, "GET", api + "/sync?timeout=0", json(), reader.token, "initial sync");
      std::map<size_t, std::string> shown;
      auto room = out["rooms"]["join"].find(rooms[r]);
      if (room != out["rooms"]["join"].end())
        for (auto& e : (*room)["ephemeral"]["events"]) {
          if (e.value("type", "") != "m.receipt") continue;
          for (auto& [event_id, types] : e["content"].items())
            if (types.contains("m.read"))
              for (auto& [user, data] : types["m.read"].items())
                for (size_t u = 0; u < clients.size(); ++u)
                  if (clients[u].user_id == user) shown[u] = event_id;
        }
      // Compare by event id: the receipts name the event they are on.
      std::map<size_t, std::string> want;
      for (auto& [u, body] : receipts_acked[r]) want[u] = body;
      std::map<size_t, std::string> got;
      for (auto& [u, event_id] : shown) got[u] = event_bodies.count(event_id) ? event_bodies[event_id] : event_id;
      if (got != want)
        throw failure("room " + std::to_string(r) + ": the read receipts " + w.at(i).name +
                      " shows are not the acknowledged ones");
    }
    result.receipts.push_back(receipts_acked[r]);
  }
  return result;
}

struct options {
  uint64_t first = 1, count = 1;
  bool replay = false, no_faults = false;
  breakage broken = breakage::none;
  bool expect_caught = false; ///< success means some seed failed (a self-test)
};

/// One seed: the random layout against one instance. Empty when it passed.
std::optional<std::string> run_seed(uint64_t seed, const options& o, std::string& layout) {
  trace_log trace;
  trace.echo = o.replay;
  try {
    outcome single, spread;
    {
      trace_log quiet;
      world one(seed, true, false, quiet);
      single = run(one, seed);
    }
    world w(seed, false, !o.no_faults, trace, o.broken);
    layout = w.describe();
    if (o.replay) std::cout << "seed " << seed << ": " << layout << "\n";
    spread = run(w, seed);
    if (spread.rooms != single.rooms)
      throw failure("the rooms' histories differ from the one-instance run");
    if (spread.receipts != single.receipts)
      throw failure("the read receipts differ from the one-instance run");
    if (spread.to_device != single.to_device)
      throw failure("the delivered to-device messages differ from the one-instance run");
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

} // namespace

int sim_main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> uint64_t {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a number");
      return std::stoull(argv[++i]);
    };
    if (a == "--seed") {
      o.first = value();
      o.count = 1;
      o.replay = true;
    } else if (a == "--seeds") o.count = value();
    else if (a == "--first-seed") o.first = value();
    else if (a == "--no-faults") o.no_faults = true;
    else if (a == "--expect-caught") o.expect_caught = true;
    else if (a == "--break" && i + 1 < argc && std::string(argv[i + 1]) == "drop-row") {
      o.broken = breakage::drop_row;
      ++i;
    } else if (a == "--break" && i + 1 < argc && std::string(argv[i + 1]) == "skip-gap") {
      o.broken = breakage::skip_gap;
      ++i;
    } else {
      std::cerr << "usage: axon-sim [--seeds N] [--first-seed S] | --seed S  [--no-faults]\n"
                   "                [--break drop-row|skip-gap [--expect-caught]]\n";
      return 2;
    }
  }
  size_t passed = 0, failed = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t s = o.first; s < o.first + o.count; ++s) {
    std::string layout;
    auto err = run_seed(s, o, layout);
    if (err) {
      ++failed;
      std::cout << "FAIL seed " << s << " (" << layout << "): " << *err << std::endl;
    } else {
      ++passed;
    }
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << o.count << " seeds in " << secs << " s ("
            << (secs > 0 ? 60.0 * static_cast<double>(o.count) / secs : 0.0) << " seeds/minute)\n";
  std::cout << "sim: " << passed << " passed, " << failed << " failed\n";
  if (o.expect_caught) {
    // A deliberately broken variant: the harness must have caught it.
    std::cout << (failed ? "sim: the broken variant was caught\n"
                         : "sim: the broken variant was NOT caught\n");
    return failed ? 0 : 1;
  }
  return failed ? 1 : 0;
}

} // namespace axon::sim

int main(int argc, char** argv) { return axon::sim::sim_main(argc, argv); }
