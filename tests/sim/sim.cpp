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
// timeout when nothing can run. The workload's requests go one after the
// other; each user's long-polling second device runs on a fiber (a thread
// that runs only while it holds the one baton), so its /sync overlaps them
// and waits in the real handler. Actors, fibers, replication and pub/sub
// interleave under the seed.
#include "actors/boot/instance.hpp"
#include "actors/http/http_server.hpp"
#include "actors/http/router.hpp"
#include "config/homeserver_config.hpp"
#include "matrix/crypto.hpp"
#include "matrix/environment.hpp"
#include "matrix/stream_token.hpp"
#include "storage/database.hpp"
#include "storage/stores/events_store.hpp"
#include "tests/integration/pg_fixture.hpp"
#include "transport/pubsub.hpp"
#include "transport/replication_client.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
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

/// A database whose calls are sometimes slow: before each, `delay` may let
/// simulated time pass, so timers fall due meanwhile as they would while a
/// real call holds its thread (a request's wait for a writer may time out
/// while the writer is still storing).
class slow_connection final : public storage::connection {
public:
  slow_connection(storage::pool::lease inner, std::function<void()> delay)
    : inner_(std::move(inner)), delay_(std::move(delay)) {}
  storage::engine_kind kind() const override { return inner_->kind(); }
  storage::result exec(std::string_view sql, const storage::sql_params& params) override {
    delay_();
    return inner_->exec(sql, params);
  }
  void exec_script(std::string_view sql) override { inner_->exec_script(sql); }
  std::vector<storage::result> exec_many(const std::vector<storage::statement>& s) override {
    delay_();
    return inner_->exec_many(s);
  }
  std::vector<storage::result> exec_transaction(const std::vector<storage::statement>& s) override {
    delay_();
    return inner_->exec_transaction(s);
  }
  void begin() override { inner_->begin(); }
  void commit() override {
    delay_();
    inner_->commit();
  }
  void rollback() override { inner_->rollback(); }

private:
  storage::pool::lease inner_;
  std::function<void()> delay_;
};

class slow_pool final : public storage::pool {
public:
  slow_pool(std::unique_ptr<storage::pool> inner, std::function<void()> delay)
    : inner_(std::move(inner)), delay_(std::move(delay)) {}
  lease acquire() override {
    return lease(this, std::make_unique<slow_connection>(inner_->acquire(), delay_));
  }
  storage::engine_kind kind() const override { return inner_->kind(); }

protected:
  void release(std::unique_ptr<storage::connection> c) override { c.reset(); }

private:
  std::unique_ptr<storage::pool> inner_;
  std::function<void()> delay_;
};

class world {
public:
  world(uint64_t seed, bool one_instance, bool faults, trace_log& trace,
        breakage broken = breakage::none, bool postgres = false)
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
    if (postgres) {
      // A fresh database on the AXON_TEST_PG server for each run.
      pg_ = test::pg_test_database::create();
      if (!pg_) throw std::invalid_argument("--postgres needs AXON_TEST_PG (a libpq conninfo)");
      o = pg_->options(4);
    }
    pool_ = std::make_unique<slow_pool>(storage::open_pool(o), [this] { slow_call(); });
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
    abandon_fibers();
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
    pg_.reset();
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
  /// On a client's fiber: parks it until `self` has mail.
  void pump(caf::blocking_actor* self) {
    if (auto* f = current_fiber()) {
      f->waiting = self;
      yield(*f);
      f->waiting = nullptr;
      return;
    }
    for (size_t steps = 0; self->mailbox().empty(); ++steps) {
      if (steps > 5'000'000) throw failure("the coordinator never settles (live lock)");
      if (step()) continue;
      if (!sched_->has_pending_timeout()) throw failure("deadlock: a request waits and nothing can run");
      advance_to_next_timeout();
    }
  }

  /// Runs everything runnable now (on the main thread, clients' fibers too).
  void settle() {
    if (current_fiber()) {
      sched_->run();
      return;
    }
    while (step()) {
    }
  }

  // ---- concurrent clients ----
  //
  // A client whose requests overlap the workload's runs on a fiber: its own
  // thread, holding the one baton while it runs, so that one thread runs at
  // a time and the seed decides who (a request waiting for an answer parks
  // its fiber; the main thread resumes it once the answer is there).

  struct fiber {
    std::string name;
    std::function<void()> body;
    std::thread thread;
    caf::blocking_actor* waiting = nullptr; ///< parked in pump for this one's mail
    bool started = false, done = false;
    std::string error; ///< a failure it found
  };

  /// Starts `body` on a fiber (it runs when the main thread lets it).
  void spawn_fiber(const std::string& name, std::function<void()> body) {
    auto f = std::make_unique<fiber>();
    f->name = name;
    f->body = std::move(body);
    auto* raw = f.get();
    f->thread = std::thread([this, raw, b = baton_] {
      {
        // (`b`: a fiber left parked when a run fails waits here for good.)
        std::unique_lock<std::mutex> lock(b->mu);
        b->cv.wait(lock, [&] { return b->running == raw; });
      }
      fiber_tls() = raw;
      try {
        raw->body();
      } catch (const std::exception& e) {
        raw->error = e.what();
      }
      raw->done = true;
      std::lock_guard<std::mutex> lock(baton_->mu);
      baton_->running = nullptr;
      baton_->cv.notify_all();
    });
    fibers_.push_back(std::move(f));
  }

  /// Whether some fiber is still running its body.
  bool fibers_running() const {
    for (auto& f : fibers_)
      if (!f->done) return true;
    return false;
  }

  /// Runs until every fiber has finished (they stop on their own: `stop`),
  /// letting simulated time pass; throws what a fiber found.
  void join_fibers() {
    for (size_t steps = 0; fibers_running(); ++steps) {
      if (steps > 5'000'000) throw failure("the clients' fibers never finish (live lock)");
      if (step()) continue;
      if (!sched_->has_pending_timeout()) throw failure("deadlock: a client waits and nothing can run");
      advance_to_next_timeout();
    }
    for (auto& f : fibers_) {
      if (f->thread.joinable()) f->thread.join();
      if (!f->error.empty()) throw failure(f->error);
    }
    fibers_.clear();
  }

  /// A run that failed: lets the fibers finish if they can (before what
  /// they use goes away); one that cannot stays parked, detached.
  void abandon_fibers() noexcept {
    if (fibers_.empty()) return;
    stop = true;
    after_request = nullptr; // the workload's checks may be gone
    try {
      join_fibers();
    } catch (const std::exception&) {
    }
    for (auto& f : fibers_) {
      if (!f->thread.joinable()) continue;
      if (f->done) f->thread.join();
      else {
        f->thread.detach();
        (void)f.release();
      }
    }
    fibers_.clear();
  }

  /// Set once the fibers should finish their current request and stop.
  bool stop = false;

  /// Between two requests, a fiber lets others run.
  void yield_now() {
    if (auto* f = current_fiber()) yield(*f);
  }

  /// Lets `ms` of simulated time pass, running what falls due.
  void pass(int64_t ms) {
    auto until = sched_->clock().now() + std::chrono::milliseconds(ms);
    settle();
    while (sched_->has_pending_timeout()) {
      auto next = sched_->clock().schedule().begin()->first;
      if (next > until) break;
      advance_to_next_timeout();
      settle();
    }
    if (sched_->clock().now() < until) sched_->advance_time(until - sched_->clock().now());
    settle();
  }

  /// A client request to instance `i`.
  std::pair<int, json> request(size_t i, const std::string& method, const std::string& uri,
                               const json& body, const std::string& token) {
    auto& n = *nodes_.at(i);
    if (!n.inst) {
      // Down while it restarts (a fiber's request meanwhile): no answer.
      trace_("client -> " + n.name + ": " + method + " " + uri + ": refused (restarting)");
      return {0, json()};
    }
    http::incoming in;
    in.method = method;
    in.uri = uri;
    in.remote_addr = "10.0.0.1";
    if (!token.empty()) in.authorization = "Bearer " + token;
    auto text = body.is_null() ? std::string() : body.dump();
    in.read_body = [text](std::string& b) { b = text; };
    // Requests overlap when clients' fibers run: say who starts what.
    auto who = current_fiber() ? "fiber " + current_fiber()->name : std::string("client");
    if (trace_.echo && !fibers_.empty()) trace_(who + " -> " + n.name + ": " + method + " " + uri + " ...");
    busy_.insert(n.name);
    auto out = http::dispatch(*n.client, &n.inst->context(), in);
    busy_.erase(busy_.find(n.name));
    trace_(who + " -> " + n.name + ": " + method + " " + uri + ": " + std::to_string(out.first) +
           (out.first == 200 ? "" : " " + out.second.dump()));
    if (faults_ && !busy_.count(n.name) && !current_fiber() && chance(0.01)) {
      // It crashes before its answer leaves, and before the work it queued
      // (publishing, notifying) has run.
      trace_("fault: " + n.name + " crashes before answering " + method + " " + uri);
      restart(n);
      out = {0, json()};
    }
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
      // Delayed on the way: time passes before it arrives (timers fall due).
      auto ms = 1 + static_cast<int64_t>(pick(2000));
      trace_("net: " + from + " -> " + to + " " + wire_name + ": delayed " + std::to_string(ms) + " ms");
      sched_->advance_time(std::chrono::milliseconds(ms));
      stalled_ = true;
    }
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
    busy_.insert(to);
    auto [status, answer] = http::dispatch(*n->replication, &n->inst->context(), in);
    busy_.erase(busy_.find(to));
    trace_("net: " + from + " -> " + to + " " + wire_name + ": " + std::to_string(status));
    if (faults_ && !busy_.count(to) && !current_fiber() && chance(0.005)) {
      // It did the work, then crashed before answering.
      trace_("fault: " + to + " crashes before answering " + wire_name);
      restart(*n);
      throw matrix_error(errc::timeout, "instance " + to + " did not answer in time (simulated)");
    }
    if (faults_ && chance(0.02)) {
      trace_("net: " + to + " -> " + from + " " + wire_name + ": answer lost");
      throw matrix_error(errc::timeout, "instance " + to + " did not answer in time (simulated)");
    }
    return transport::replication_answer(to, status, std::move(answer));
  }

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
    if (chance(0.01)) {
      auto& n = *nodes_[pick(nodes_.size())];
      if (!busy_.count(n.name)) restart(n); // not under a client's request
    }
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
    faults_ = false;
    for (auto& n : nodes_)
      if (!n->connected) reconnect(*n);
    pass(6000); // heartbeats, claims and catch-up
  }

  /// Before a database call: now and then it takes a while, rarely longer
  /// than a request waits for a writer (30 s).
  void slow_call() {
    if (!faults_) return;
    int64_t ms = 0;
    if (chance(0.01)) ms = 1 + static_cast<int64_t>(pick(1000));
    else if (chance(0.0005)) ms = 30'000 + static_cast<int64_t>(pick(10'000));
    if (!ms) return;
    trace_("fault: a database call takes " + std::to_string(ms) + " ms");
    sched_->advance_time(std::chrono::milliseconds(ms));
    stalled_ = true;
  }

  /// Whether a slow database call let time pass since the last call. Here
  /// it stalls every instance (one thread runs all), where a real one holds
  /// one thread: a deadline that assumes the others ran starts over.
  bool take_stalled() { return std::exchange(stalled_, false);
  }

  /// How often `name` has restarted.
  int generation_of(const std::string& name) {
    auto* n = find(name);
    return n ? n->generation : 0;
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

private:
  /// Who holds the baton: nullptr, the main thread.
  struct baton {
    std::mutex mu;
    std::condition_variable cv;
    fiber* running = nullptr;
  };

  static fiber*& fiber_tls() {
    static thread_local fiber* current = nullptr;
    return current;
  }
  static fiber* current_fiber() { return fiber_tls(); }

  /// Main thread: lets `f` run until it parks, yields or finishes.
  void resume(fiber& f) {
    f.started = true;
    std::unique_lock<std::mutex> lock(baton_->mu);
    baton_->running = &f;
    baton_->cv.notify_all();
    baton_->cv.wait(lock, [&] { return baton_->running == nullptr; });
  }

  /// On fiber `f`: hands the baton back and waits for it.
  void yield(fiber& f) {
    std::unique_lock<std::mutex> lock(baton_->mu);
    baton_->running = nullptr;
    baton_->cv.notify_all();
    baton_->cv.wait(lock, [&] { return baton_->running == &f; });
  }

  /// Main thread: one step of whatever can run: a fiber whose answer is
  /// there (or that yielded, or has not started), or an actor's job; the
  /// seed picks between them.
  bool step() {
    std::vector<fiber*> ready;
    for (auto& f : fibers_)
      if (!f->done && (!f->waiting || !f->waiting->mailbox().empty())) ready.push_back(f.get());
    bool job = sched_->has_job();
    if (!ready.empty() && (!job || chance(0.5))) {
      resume(*ready[pick(ready.size())]);
      return true;
    }
    return sched_->try_run_once();
  }

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
    shared.presence_enabled = true;
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
  std::multiset<std::string> busy_; ///< instances with a request on a stack
  std::vector<std::unique_ptr<fiber>> fibers_;
  std::shared_ptr<baton> baton_ = std::make_shared<baton>();
  bool stalled_ = false;             ///< see take_stalled
  trace_log& trace_;
  std::mt19937_64 rng_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::unique_ptr<sim_env> env_;
  fs::path dir_;
  std::unique_ptr<test::pg_test_database> pg_; ///< with --postgres
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
  std::string user_id, token, device_id;
  std::string since; ///< last next_batch
  std::vector<matrix::stream_token> tokens;
  /// room index -> the message event ids this client's /sync delivered, one
  /// list per stretch of membership (a room that shows up newly joined
  /// starts one), in the order delivered.
  std::map<size_t, std::vector<std::vector<std::string>>> segments;
  std::map<size_t, bool> in_room; ///< as its /sync last showed it
  /// room index -> the messages acknowledged while this client was joined:
  /// its /sync must deliver each, unless it started again without a token
  /// after leaving (an initial /sync leaves out left rooms).
  std::map<size_t, std::set<std::string>> must_see;
  /// room index -> messages of a `joined` history-visibility room
  /// acknowledged while this client was not joined: no /sync may show them.
  std::map<size_t, std::set<std::string>> must_not_see;
  /// The to-device messages this client's /sync delivered, in order.
  std::vector<std::string> to_device;
};

/// What one run leaves for comparison with the one-instance run.
struct outcome {
  /// Per room (by creation order): its messages' bodies in order, a
  /// redacted one marked.
  std::vector<std::vector<std::string>> rooms;
  std::vector<std::string> topics;               ///< per room
  std::vector<std::set<size_t>> members;         ///< per room: joined users
  std::vector<std::vector<std::string>> to_device; ///< per client, as delivered
  /// Per room: user index -> the message body their m.read receipt is on.
  std::vector<std::map<size_t, std::string>> receipts;
  /// Per user: the global and per-room account data read back.
  std::vector<std::string> account_data;
  std::vector<std::string> statuses; ///< per user: the presence status message
};

const std::string api = "/_matrix/client/v3";

/// Every request gets a status and a JSON body; an error is a Matrix error.
/// Status 0: the instance crashed before answering (no HTTP answer).
json expect_ok(world& w, std::pair<int, json> r, const std::string& what) {
  auto& [status, body] = r;
  if (status != 200) {
    if (status == 0) {
      w.trace()(what + ": no answer (the instance crashed)");
      return json();
    }
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

/// The ids of the m.room.message events in a list of events.
std::vector<std::string> messages_in(const json& events) {
  std::vector<std::string> out;
  for (auto& e : events)
    if (e.value("type", "") == "m.room.message") out.push_back(e.value("event_id", ""));
  return out;
}

void sync_once(world& w, client& c, const std::vector<std::string>& rooms, size_t instance,
               int64_t timeout_ms = 0) {
  std::string uri = api + "/sync?timeout=" + std::to_string(timeout_ms) + "&filter=" +
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
  auto& joined = out["rooms"]["join"];
  auto& left = out["rooms"]["leave"];
  if (c.tokens.size() == 1)
    for (size_t r = 0; r < rooms.size(); ++r)
      if (!joined.contains(rooms[r])) c.must_see[r].clear();
  for (size_t r = 0; r < rooms.size(); ++r) {
    const json* entry = nullptr;
    bool is_joined = joined.contains(rooms[r]);
    if (is_joined) entry = &joined[rooms[r]];
    else if (left.contains(rooms[r])) entry = &left[rooms[r]];
    if (!entry) continue;
    auto& segs = c.segments[r];
    // Newly joined, or joined again since the last /sync (its own join in
    // the timeline): the room comes as for an initial /sync.
    bool fresh = !c.in_room[r];
    for (auto& e : (*entry)["timeline"]["events"])
      fresh |= e.value("type", "") == "m.room.member" && e.value("state_key", "") == c.user_id &&
               e["content"].value("membership", "") == "join";
    if (fresh) segs.emplace_back();
    else if ((*entry)["timeline"].value("limited", false))
      throw failure("sync " + c.user_id + ": limited timeline with a limit above the traffic");
    for (auto& id : messages_in((*entry)["timeline"]["events"])) segs.back().push_back(id);
    c.in_room[r] = is_joined;
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

/// What the workload knows of one room from the answers it got.
struct room_model {
  std::string id;
  size_t creator = 0; ///< never leaves
  bool joined_only = false; ///< history_visibility joined (odd rooms)
  std::set<size_t> members;
  std::vector<std::string> history; ///< acknowledged messages' event ids, in order
  std::set<std::string> redacted;
  size_t redactions = 0;
  std::string topic;
  std::map<size_t, std::string> receipts; ///< user -> body of the event
  /// user -> when their typing notice runs out: no earlier than `from`, no
  /// later than `to` (the request was processed somewhere in between), and
  /// the typing writer's generation then (a restart forgets it).
  struct typing {
    int64_t from, to;
    int generation;
  };
  std::map<size_t, typing> typing;
};

/// An /sync without a token through instance `i`.
json initial_sync(world& w, size_t i, const client& c, const std::string& filter = "") {
  auto uri = api + "/sync?timeout=0";
  if (!filter.empty()) uri += "&filter=" + enc(filter);
  return until_ok(w, i, "GET", uri, json(), c.token, "initial sync " + c.user_id);
}

/// The users a room's m.typing event in a sync response names (none if it
/// has no such event; `found` says whether it had).
std::set<std::string> typing_in(const json& sync, const std::string& room_id, bool* found = nullptr) {
  std::set<std::string> out;
  if (found) *found = false;
  auto& join = sync["rooms"]["join"];
  auto room = join.find(room_id);
  if (room == join.end()) return out;
  for (auto& e : (*room)["ephemeral"]["events"])
    if (e.value("type", "") == "m.typing") {
      if (found) *found = true;
      for (auto& u : e["content"]["user_ids"]) out.insert(u.get<std::string>());
    }
  return out;
}

/// The workload, driven by the seed; returns what every reader must see.
outcome run(world& w, uint64_t seed) {
  std::mt19937_64 load(seed * 31 + 7); // the workload's own randomness: the same in every layout
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(load); };
  auto inst = [&] { return w.pick(w.size()); };
  size_t users = 2 + pick(3), room_count = 1 + pick(3), steps = 20 + pick(50);
  std::vector<client> clients;
  // A new device of user `name`, through a random instance.
  auto login = [&](const std::string& name) {
    return until_ok(w, inst(), "POST", api + "/login",
                    {{"type", "m.login.password"},
                     {"identifier", {{"type", "m.id.user"}, {"user", name}}},
                     {"password", "sim-password-1"}},
                    "", "login " + name);
  };
  for (size_t u = 0; u < users; ++u) {
    auto name = "u" + std::to_string(u);
    json out;
    for (int attempt = 0; out.is_null(); ++attempt) {
      if (attempt == 50) throw failure("register " + name + ": still failing after 50 tries");
      auto r = w.request(inst(), "POST", api + "/register",
                         {{"username", name}, {"password", "sim-password-1"},
                          {"auth", {{"type", "m.login.dummy"}}}},
                         "");
      if (r.first == 400 && r.second.value("errcode", "") == "M_USER_IN_USE") {
        // An earlier attempt registered it, and its answer was lost: log in.
        out = login(name);
        break;
      }
      out = expect_ok(w, r, "register " + name);
      if (out.is_null()) {
        w.maybe_fault();
        w.pass(100);
      }
    }
    client c;
    c.user_id = out.value("user_id", "");
    c.token = out.value("access_token", "");
    c.device_id = out.value("device_id", "");
    clients.push_back(std::move(c));
  }
  std::vector<room_model> rooms(room_count);
  std::vector<std::string> room_ids;
  std::map<std::string, std::string> bodies;  // event id -> body
  std::map<std::string, size_t> senders;      // event id -> user
  auto join = [&](size_t u, size_t r) {
    until_ok(w, inst(), "POST", api + "/join/" + enc(rooms[r].id), json::object(),
             clients[u].token, "join " + std::to_string(r));
    rooms[r].members.insert(u);
  };
  for (size_t r = 0; r < room_count; ++r) {
    size_t creator = pick(users);
    // Odd rooms keep their history from later joiners (history_visibility
    // joined): every instance must hide it on every path.
    json create = {{"preset", "public_chat"}};
    if (r % 2 == 1)
      create["initial_state"] = json::array({{{"type", "m.room.history_visibility"},
                                              {"state_key", ""},
                                              {"content", {{"history_visibility", "joined"}}}}});
    auto out = until_ok(w, inst(), "POST", api + "/createRoom", create,
                        clients[creator].token, "createRoom " + std::to_string(r));
    rooms[r].joined_only = r % 2 == 1;
    rooms[r].id = out.value("room_id", "");
    rooms[r].creator = creator;
    rooms[r].members.insert(creator);
    room_ids.push_back(rooms[r].id);
  }
  for (size_t u = 0; u < users; ++u)
    for (size_t r = 0; r < room_count; ++r)
      if (!rooms[r].members.count(u) && pick(3) != 0) join(u, r);
  for (auto& c : clients) sync_once(w, c, room_ids, inst());
  // Each user also long-polls /sync from a second device on a fiber of its
  // own, through random instances, while the workload goes on: requests
  // overlap, and long-polls wait in the real /sync handler.
  std::vector<client> pollers(users);
  for (size_t u = 0; u < users; ++u) {
    auto out = login("u" + std::to_string(u));
    pollers[u].user_id = clients[u].user_id;
    pollers[u].token = out.value("access_token", "");
    pollers[u].device_id = out.value("device_id", "");
  }
  // A failure unwinding this function stops them while what they use lives.
  struct fibers_guard {
    world& w;
    ~fibers_guard() { w.abandon_fibers(); }
  } guard{w};
  for (size_t u = 0; u < users; ++u)
    w.spawn_fiber(pollers[u].user_id, [&w, &c = pollers[u], &room_ids] {
      for (int n = 0; !w.stop && n < 40; ++n) {
        sync_once(w, c, room_ids, w.pick(w.size()), static_cast<int64_t>(w.pick(30'000)));
        w.yield_now();
      }
    });
  size_t sent = 0;
  std::vector<watcher> watchers;
  size_t to_device_sent = 0;
  std::vector<std::vector<std::string>> to_device_acked(users); // per recipient, in order
  std::vector<json> account_data(users);                        // last acknowledged
  std::vector<std::map<size_t, json>> room_account_data(users);
  std::vector<std::string> status_acked(users); // presence status messages
  // A room of user u's, or none.
  auto room_of = [&](size_t u) -> std::optional<size_t> {
    std::vector<size_t> mine;
    for (size_t r = 0; r < room_count; ++r)
      if (rooms[r].members.count(u)) mine.push_back(r);
    if (mine.empty()) return std::nullopt;
    return mine[pick(mine.size())];
  };
  auto typing_writer = w.at(0).cfg.stream_writers.typing.front();
  w.take_exposed_gaps(); // before any watcher
  w.after_request = [&] { check_gaps(w, watchers, room_ids); };
  for (size_t step = 0; step < steps; ++step) {
    w.maybe_fault();
    auto what = pick(23);
    size_t u = pick(users);
    if (what < 9) {
      auto r = room_of(u);
      if (!r) continue;
      auto& room = rooms[*r];
      auto body = "m" + std::to_string(sent++);
      watch(w, watchers, *r, room.id);
      auto answer = until_ok(w, inst(), "PUT",
                             api + "/rooms/" + enc(room.id) + "/send/m.room.message/" + body,
                             {{"msgtype", "m.text"}, {"body", body}}, clients[u].token, "send " + body);
      auto id = answer.value("event_id", "");
      room.history.push_back(id);
      bodies[id] = body;
      senders[id] = u;
      for (auto v : room.members) {
        clients[v].must_see[*r].insert(id);
        pollers[v].must_see[*r].insert(id);
      }
      if (room.joined_only)
        for (size_t v = 0; v < users; ++v)
          if (!room.members.count(v)) {
            clients[v].must_not_see[*r].insert(id);
            pollers[v].must_not_see[*r].insert(id);
          }
      must_wake(w, watchers, *r, body);
      // Every other send, time for a heartbeat: whoever waits in a room
      // with an acknowledged send since, on an instance connected to
      // pub/sub, has woken by then. (The other sends follow at once: a lost
      // row is then followed by its writer's next message, not by a
      // heartbeat, and only the gap shows it.)
      if (w.chance(0.5)) {
        w.take_stalled();
        do w.pass(6000);
        while (w.take_stalled());
        check_gaps(w, watchers, room_ids);
        for (auto& x : watchers)
          if (x.must_wake && x.generation == w.at(x.node).generation && w.at(x.node).connected &&
              !x.woken())
            throw failure("a /sync waiting on " + w.at(x.node).name + " in room " +
                          std::to_string(x.room) + " did not wake within 6 s of " + x.why);
      }
    } else if (what < 12) {
      sync_once(w, clients[u], room_ids, inst());
    } else if (what == 12) {
      account_data[u] = {{"step", step}};
      until_ok(w, inst(), "PUT",
               api + "/user/" + enc(clients[u].user_id) + "/account_data/sim.counter",
               account_data[u], clients[u].token, "account_data");
    } else if (what == 13) {
      // A to-device message to another user's device (the same
      // transaction id on every retry: sent once).
      size_t v = pick(users);
      auto n = "d" + std::to_string(to_device_sent++);
      json messages = {{clients[v].user_id, {{clients[v].device_id, {{"n", n}}}}}};
      until_ok(w, inst(), "PUT", api + "/sendToDevice/sim.test/" + n, {{"messages", messages}},
               clients[u].token, "sendToDevice " + n);
      to_device_acked[v].push_back(n);
    } else if (what == 14) {
      // A read receipt on the newest message of one of the user's rooms.
      auto r = room_of(u);
      if (!r || rooms[*r].history.empty()) continue;
      auto& room = rooms[*r];
      auto& id = room.history.back();
      until_ok(w, inst(), "POST", api + "/rooms/" + enc(room.id) + "/receipt/m.read/" + enc(id),
               json::object(), clients[u].token, "receipt on " + bodies[id]);
      room.receipts[u] = bodies[id];
    } else if (what == 15) {
      // Leave a room (not its creator), or join one again.
      size_t r = pick(room_count);
      auto& room = rooms[r];
      if (!room.members.count(u)) join(u, r);
      else if (u != room.creator) {
        until_ok(w, inst(), "POST", api + "/rooms/" + enc(room.id) + "/leave", json::object(),
                 clients[u].token, "leave " + std::to_string(r));
        room.members.erase(u);
        room.typing.erase(u); // leaving stops typing (as in Synapse)
      }
    } else if (what == 16) {
      // Redact one of the user's own messages (again is fine: the event
      // is redacted once, and the redaction counted per acknowledgement).
      auto r = room_of(u);
      if (!r) continue;
      auto& room = rooms[*r];
      std::vector<std::string> own;
      for (auto& id : room.history)
        if (senders[id] == u && !room.redacted.count(id)) own.push_back(id);
      if (own.empty()) continue;
      auto id = own[pick(own.size())];
      auto txn = "x" + std::to_string(step);
      until_ok(w, inst(), "PUT", api + "/rooms/" + enc(room.id) + "/redact/" + enc(id) + "/" + txn,
               {{"reason", "sim"}}, clients[u].token, "redact " + bodies[id]);
      room.redacted.insert(id);
      ++room.redactions;
    } else if (what == 17) {
      // The creator (power 100) sets the topic.
      size_t r = pick(room_count);
      auto& room = rooms[r];
      auto topic = "t" + std::to_string(step);
      until_ok(w, inst(), "PUT", api + "/rooms/" + enc(room.id) + "/state/m.room.topic",
               {{"topic", topic}}, clients[room.creator].token, "topic " + topic);
      room.topic = topic;
    } else if (what == 18) {
      auto r = room_of(u);
      if (!r) continue;
      auto& room = rooms[*r];
      bool on = pick(3) != 0;
      int64_t timeout = 1000 + static_cast<int64_t>(pick(60000));
      json body = {{"typing", on}};
      if (on) body["timeout"] = timeout;
      auto from = w.now_ms();
      until_ok(w, inst(), "PUT",
               api + "/rooms/" + enc(room.id) + "/typing/" + enc(clients[u].user_id), body,
               clients[u].token, "typing");
      if (on) room.typing[u] = {from + timeout, w.now_ms() + timeout, w.generation_of(typing_writer)};
      else room.typing.erase(u);
    } else if (what == 19) {
      // Paginate a room back from an initial /sync's timeline through
      // random instances: the pages and the timeline are the room's history.
      auto r = room_of(u);
      if (!r) continue;
      auto& room = rooms[*r];
      auto out = initial_sync(w, inst(), clients[u], R"({"room":{"timeline":{"limit":2}}})");
      auto entry = out["rooms"]["join"].find(room.id);
      if (entry == out["rooms"]["join"].end())
        throw failure("initial sync of " + clients[u].user_id + " misses room " + std::to_string(*r));
      auto tail = messages_in((*entry)["timeline"]["events"]);
      auto from = (*entry)["timeline"].value("prev_batch", "");
      std::vector<std::string> back;
      for (int page = 0; !from.empty(); ++page) {
        if (page > 200) throw failure("pagination of room " + std::to_string(*r) + " never ends");
        auto chunk = until_ok(w, inst(), "GET",
                              api + "/rooms/" + enc(room.id) + "/messages?dir=b&limit=3&from=" + enc(from),
                              json(), clients[u].token, "messages back");
        auto ids = messages_in(chunk["chunk"]);
        back.insert(back.end(), ids.begin(), ids.end());
        if (chunk["chunk"].empty()) break;
        from = chunk.value("end", "");
      }
      std::vector<std::string> all(back.rbegin(), back.rend());
      all.insert(all.end(), tail.begin(), tail.end());
      // What history visibility hides from them aside.
      std::vector<std::string> visible;
      for (auto& id : room.history)
        if (!clients[u].must_not_see[*r].count(id)) visible.push_back(id);
      if (all != visible)
        throw failure("room " + std::to_string(*r) + ": paginating back from an initial /sync gives " +
                      std::to_string(all.size()) + " messages, not the " +
                      std::to_string(visible.size()) + " acknowledged and visible to them, in order");
    } else if (what == 22) {
      auto status = "p" + std::to_string(step);
      until_ok(w, inst(), "PUT", api + "/presence/" + enc(clients[u].user_id) + "/status",
               {{"presence", pick(2) ? "online" : "unavailable"}, {"status_msg", status}},
               clients[u].token, "presence " + status);
      status_acked[u] = status;
    } else {
      auto r = room_of(u);
      if (!r) continue;
      json value = {{"step", step}};
      until_ok(w, inst(), "PUT",
               api + "/user/" + enc(clients[u].user_id) + "/rooms/" + enc(rooms[*r].id) +
                 "/account_data/sim.room",
               value, clients[u].token, "room account_data");
      room_account_data[u][*r] = value;
    }
  }
  // The long-polls finish (woken, or at their timeout) and stop.
  w.stop = true;
  w.join_fibers();
  w.heal();
  check_gaps(w, watchers, room_ids);
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

  // Everyone joins the history_visibility joined rooms they are not in:
  // neither /sync (checked below) nor /messages on any instance may show
  // them what was said while they were out.
  for (size_t r = 0; r < room_count; ++r) {
    if (!rooms[r].joined_only) continue;
    for (size_t u = 0; u < users; ++u) {
      if (rooms[r].members.count(u)) continue;
      join(u, r);
      auto page = until_ok(w, inst(), "GET",
                           api + "/rooms/" + enc(rooms[r].id) + "/messages?dir=b&limit=1000",
                           json(), clients[u].token, "messages after a late join");
      for (auto& id : messages_in(page.value("chunk", json::array())))
        if (clients[u].must_not_see[r].count(id))
          throw failure(clients[u].user_id + "'s /messages of room " + std::to_string(r) +
                        " returned " + bodies[id] + ", sent while they were not joined to a "
                        "room with history_visibility joined");
    }
  }

  outcome result;
  auto fail_room = [](size_t r, const std::string& what) {
    throw failure("room " + std::to_string(r) + ": " + what);
  };
  for (size_t r = 0; r < room_count; ++r) {
    auto& room = rooms[r];
    auto& reader = clients[room.creator];
    // Every instance's /messages of a room is the same list: each
    // acknowledged message once, in the order of the answers (sends are
    // answered one after the other), redacted ones without content, and one
    // redaction per acknowledged redaction.
    std::vector<std::string> want;
    for (auto& id : room.history) want.push_back(bodies[id] + (room.redacted.count(id) ? " (redacted)" : ""));
    std::set<std::string> members;
    for (auto u : room.members) members.insert(clients[u].user_id);
    for (size_t i = 0; i < w.size(); ++i) {
      auto& name = w.at(i).name;
      auto out = until_ok(w, i, "GET", api + "/rooms/" + enc(room.id) + "/messages?dir=f&limit=1000",
                          json(), reader.token, "messages");
      std::vector<std::string> got;
      size_t redactions = 0;
      for (auto& e : out["chunk"]) {
        auto type = e.value("type", "");
        if (type == "m.room.redaction") ++redactions;
        if (type != "m.room.message") continue;
        auto id = e.value("event_id", "");
        if (!bodies.count(id)) fail_room(r, "/messages on " + name + " has a message never acknowledged");
        bool empty = !e.contains("content") || e["content"].empty();
        got.push_back(bodies[id] + (empty ? " (redacted)" : ""));
      }
      if (got != want)
        fail_room(r, "/messages on " + name + " is not the acknowledged sends and redactions (" +
                       std::to_string(got.size()) + " events, " + std::to_string(want.size()) +
                       " acknowledged)");
      if (redactions != room.redactions)
        fail_room(r, "/messages on " + name + " has " + std::to_string(redactions) + " redactions, " +
                       std::to_string(room.redactions) + " acknowledged");
      // State: the topic last set, and the members.
      auto topic = w.request(i, "GET", api + "/rooms/" + enc(room.id) + "/state/m.room.topic", json(),
                             reader.token);
      auto shown = topic.first == 200 ? topic.second.value("topic", "") : std::string();
      if (shown != room.topic || (topic.first != 200 && topic.second.value("errcode", "") != "M_NOT_FOUND"))
        fail_room(r, "the topic on " + name + " is \"" + shown + "\", not the last one set, \"" +
                       room.topic + "\"");
      auto joined = until_ok(w, i, "GET", api + "/rooms/" + enc(room.id) + "/joined_members", json(),
                             reader.token, "joined_members");
      std::set<std::string> listed;
      for (auto& [user, _] : joined["joined"].items()) listed.insert(user);
      if (listed != members) fail_room(r, "the joined members on " + name + " are not the ones acknowledged");
    }
    result.rooms.push_back(want);
    result.topics.push_back(room.topic);
    result.members.push_back(room.members);
  }
  auto check_timelines = [&](client& c) {
    // Converge: sync through every instance until nothing new comes.
    for (size_t i = 0; i < w.size(); ++i) sync_once(w, c, room_ids, i);
    for (size_t r = 0; r < room_count; ++r) {
      // Each stretch of membership delivers messages in the room's order,
      // each once; together they hold every message acknowledged while the
      // user was joined.
      std::map<std::string, size_t> order;
      for (size_t k = 0; k < rooms[r].history.size(); ++k) order[rooms[r].history[k]] = k;
      std::set<std::string> delivered;
      for (auto& seg : c.segments[r]) {
        std::optional<size_t> last;
        for (auto& id : seg) {
          auto k = order.find(id);
          if (k == order.end()) throw failure(c.user_id + "'s /sync delivered a message never acknowledged");
          if (last && k->second <= *last)
            throw failure(c.user_id + "'s /sync of room " + std::to_string(r) +
                          " repeated a message or went back in the room's order");
          last = k->second;
          delivered.insert(id);
          if (c.must_not_see[r].count(id))
            throw failure(c.user_id + "'s /sync of room " + std::to_string(r) + " delivered " +
                          bodies[id] + ", sent while they were not joined to a room with "
                          "history_visibility joined");
        }
      }
      for (auto& id : c.must_see[r])
        if (!delivered.count(id)) {
          std::string segs;
          for (auto& seg : c.segments[r]) {
            segs += " [";
            for (auto& s : seg) segs += " " + bodies[s];
            segs += " ]";
          }
          throw failure(c.user_id + "'s /sync of room " + std::to_string(r) + " never delivered " +
                        bodies[id] + ", sent while they were joined; it delivered" + segs);
        }
    }
  };
  for (auto& c : pollers) check_timelines(c);
  for (size_t u = 0; u < users; ++u) {
    auto& c = clients[u];
    check_timelines(c);
    // Every acknowledged to-device message reached the device once, in order.
    auto& want = to_device_acked[u];
    if (c.to_device != want)
      throw failure(c.user_id + "'s /sync delivered " + std::to_string(c.to_device.size()) +
                    " to-device messages, not the " + std::to_string(want.size()) +
                    " acknowledged ones once each in order");
    result.to_device.push_back(c.to_device);
    // Account data reads back as last set, on every instance.
    std::string read_back;
    for (size_t i = 0; i < w.size(); ++i) {
      auto check = [&](const std::string& uri, const json& want, const std::string& what) {
        auto got = w.request(i, "GET", uri, json(), c.token);
        bool ok = want.is_null() ? got.first == 404 && got.second.value("errcode", "") == "M_NOT_FOUND"
                                 : got.first == 200 && got.second == want;
        if (!ok)
          throw failure(c.user_id + "'s " + what + " on " + w.at(i).name + " reads " +
                        std::to_string(got.first) + " " + got.second.dump() + ", not " + want.dump());
        if (i == 0) read_back += what + "=" + got.second.dump() + ";";
      };
      check(api + "/user/" + enc(c.user_id) + "/account_data/sim.counter", account_data[u], "account data");
      for (size_t r = 0; r < room_count; ++r) {
        auto i_data = room_account_data[u].find(r);
        check(api + "/user/" + enc(c.user_id) + "/rooms/" + enc(rooms[r].id) + "/account_data/sim.room",
              i_data == room_account_data[u].end() ? json() : i_data->second,
              "room " + std::to_string(r) + " account data");
      }
    }
    result.account_data.push_back(read_back);
  }
  // Every instance's initial /sync shows each user's last acknowledged read
  // receipt in each room, and who is typing; once the typing notices run
  // out, an incremental /sync through the same instance says so.
  std::vector<std::vector<std::pair<std::string, std::set<std::string>>>> typing_seen(room_count);
  for (size_t r = 0; r < room_count; ++r) {
    auto& room = rooms[r];
    auto& reader = clients[room.creator];
    for (size_t i = 0; i < w.size(); ++i) {
      auto out = initial_sync(w, i, reader);
      std::map<size_t, std::string> got;
      auto entry = out["rooms"]["join"].find(room.id);
      if (entry != out["rooms"]["join"].end())
        for (auto& e : (*entry)["ephemeral"]["events"]) {
          if (e.value("type", "") != "m.receipt") continue;
          for (auto& [event_id, types] : e["content"].items())
            if (types.contains("m.read"))
              for (auto& [user, data] : types["m.read"].items())
                for (size_t u = 0; u < clients.size(); ++u)
                  if (clients[u].user_id == user) got[u] = bodies.count(event_id) ? bodies[event_id] : event_id;
        }
      if (got != room.receipts)
        fail_room(r, "the read receipts " + w.at(i).name + " shows are not the acknowledged ones");
      auto typing = typing_in(out, room.id);
      auto now = w.now_ms();
      for (size_t u = 0; u < users; ++u) {
        auto t = room.typing.find(u);
        bool shown = typing.count(clients[u].user_id) > 0;
        bool may = t != room.typing.end() && t->second.generation == w.generation_of(typing_writer) &&
                   t->second.to + 1000 > now;
        bool must = may && t->second.from - 1000 > now && room.members.count(u);
        if (shown != must && shown != may)
          fail_room(r, "the initial /sync on " + w.at(i).name + (shown ? " shows " : " does not show ") +
                         clients[u].user_id + " typing (now " + std::to_string(now) + ", runs out " +
                         (t == room.typing.end() ? std::string("-")
                                                 : std::to_string(t->second.from) + ".." +
                                                     std::to_string(t->second.to)) +
                         ")");
      }
      typing_seen[r].push_back({out.value("next_batch", ""), typing});
    }
    result.receipts.push_back(room.receipts);
  }
  // Every typing notice has run out, and everyone has gone offline (no
  // /sync for longer than the sync timeout).
  w.pass(130'000);
  for (size_t r = 0; r < room_count; ++r) {
    auto& reader = clients[rooms[r].creator];
    for (size_t i = 0; i < w.size(); ++i) {
      auto& [since, typing] = typing_seen[r][i];
      // set_presence=offline: this /sync leaves the reader's presence alone.
      auto out = until_ok(w, i, "GET", api + "/sync?timeout=0&set_presence=offline&since=" + enc(since),
                          json(), reader.token, "sync after typing ran out");
      bool found = false;
      auto now_typing = typing_in(out, rooms[r].id, &found);
      if (!typing.empty() && (!found || !now_typing.empty()))
        fail_room(r, "an incremental /sync on " + w.at(i).name +
                       " does not show the typing notices running out");
      // Each member went from online (their last /sync) to offline since
      // the token: the presence section says so, with their status message.
      std::map<std::string, json> presence;
      for (auto& e : out["presence"]["events"])
        if (e.value("type", "") == "m.presence") presence[e.value("sender", "")] = e["content"];
      for (auto u : rooms[r].members) {
        auto p = presence.find(clients[u].user_id);
        if (p == presence.end() || p->second.value("presence", "") != "offline" ||
            p->second.value("status_msg", "") != status_acked[u])
          fail_room(r, "an incremental /sync on " + w.at(i).name + " does not show " + clients[u].user_id +
                         " offline with status \"" + status_acked[u] + "\" (it shows " +
                         (p == presence.end() ? std::string("nothing") : p->second.dump()) + ")");
      }
    }
  }
  // The status messages read back as last set, on every instance.
  for (size_t u = 0; u < users; ++u) {
    auto& reader = clients[rooms[0].creator];
    bool shares = u == rooms[0].creator || rooms[0].members.count(u);
    for (size_t i = 0; i < w.size() && shares; ++i) {
      auto got = until_ok(w, i, "GET", api + "/presence/" + enc(clients[u].user_id) + "/status", json(),
                          reader.token, "presence status");
      if (got.value("status_msg", "") != status_acked[u] || got.value("presence", "") != "offline")
        throw failure(clients[u].user_id + "'s presence on " + w.at(i).name + " reads " + got.dump() +
                      ", not offline with status \"" + status_acked[u] + "\"");
    }
    result.statuses.push_back(status_acked[u]);
  }
  return result;
}

struct options {
  uint64_t first = 1, count = 1;
  bool replay = false, no_faults = false;
  breakage broken = breakage::none;
  bool expect_caught = false; ///< success means some seed failed (a self-test)
  bool postgres = false;      ///< PostgreSQL (AXON_TEST_PG) instead of SQLite
};

/// One seed: the random layout against one instance. Empty when it passed.
std::optional<std::string> run_seed(uint64_t seed, const options& o, std::string& layout) {
  trace_log trace;
  trace.echo = o.replay;
  try {
    outcome single, spread;
    {
      trace_log quiet;
      world one(seed, true, false, quiet, breakage::none, o.postgres);
      try {
        single = run(one, seed);
      } catch (const std::exception& e) {
        if (o.replay)
          for (auto& line : quiet.lines) std::cout << "  one instance: " << line << "\n";
        throw failure(std::string("on one instance: ") + e.what());
      }
    }
    world w(seed, false, !o.no_faults, trace, o.broken, o.postgres);
    layout = w.describe();
    if (o.replay) std::cout << "seed " << seed << ": " << layout << "\n";
    spread = run(w, seed);
    if (spread.rooms != single.rooms)
      throw failure("the rooms' histories differ from the one-instance run");
    if (spread.receipts != single.receipts)
      throw failure("the read receipts differ from the one-instance run");
    if (spread.topics != single.topics) throw failure("the rooms' topics differ from the one-instance run");
    if (spread.members != single.members)
      throw failure("the rooms' members differ from the one-instance run");
    if (spread.account_data != single.account_data)
      throw failure("the account data differs from the one-instance run");
    if (spread.statuses != single.statuses)
      throw failure("the presence status messages differ from the one-instance run");
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
    else if (a == "--postgres") o.postgres = true;
    else if (a == "--expect-caught") o.expect_caught = true;
    else if (a == "--break" && i + 1 < argc && std::string(argv[i + 1]) == "drop-row") {
      o.broken = breakage::drop_row;
      ++i;
    } else if (a == "--break" && i + 1 < argc && std::string(argv[i + 1]) == "skip-gap") {
      o.broken = breakage::skip_gap;
      ++i;
    } else {
      std::cerr << "usage: axon-sim [--seeds N] [--first-seed S] | --seed S  [--no-faults] [--postgres]\n"
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
