// tests/integration/actor_env.hpp -- what every writer test needs around its
// writer: a migrated database of one engine, an actor system, a scoped actor
// to ask the writer, and one standing in for the stream bus.
#pragma once

#include "actors/streams/account_data_writer.hpp" // stream_writer_deps
#include "messages/caf_types.hpp"
#include "tests/integration/test_databases.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace axon::test {

/// Declared in destruction order: the actor system (which joins detached
/// writers) goes before the pool, the pool before the database. A derived
/// fixture stops its writers (stop()) in its own destructor.
template <class DB>
struct actor_env {
  DB db;
  std::unique_ptr<storage::pool> pool;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self, publisher;

  bool ready() const { return db.ready(); }

  actor_env() {
    if (!db.ready()) return;
    pool = storage::open_pool(db.options());
    storage::run_migrations(*pool);
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    publisher = std::make_unique<caf::scoped_actor>(*sys);
  }

  ~actor_env() {
    publisher.reset();
    self.reset();
    sys.reset();
  }

  /// A stream writer's dependencies, publishing to `publisher`.
  actors::stream_writer_deps writer_deps() {
    return {pool.get(), "w1", caf::actor{*publisher}};
  }

  /// Stops a writer and waits until it is gone.
  template <class Handle>
  void stop(Handle& writer) {
    if (!writer) return;
    (*self)->send_exit(writer, caf::exit_reason::user_shutdown);
    (*self)->wait_for(writer);
    writer = nullptr;
  }

  /// The next stream update published, waiting at most 10 s.
  std::optional<msg::stream_advanced> next_published() {
    std::optional<msg::stream_advanced> got;
    (*publisher)->receive([&](msg::stream_advanced& adv) { got = std::move(adv); },
                          caf::after(std::chrono::seconds(10)) >> [] {});
    return got;
  }
  /// True when nothing is published within a short while.
  bool nothing_published() {
    bool none = true;
    (*publisher)->receive([&](msg::stream_advanced&) { none = false; },
                          caf::after(std::chrono::milliseconds(200)) >> [] {});
    return none;
  }
};

} // namespace axon::test
