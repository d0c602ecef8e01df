// tests/integration/device_lists_env.hpp -- the device_lists writer on a
// test database (actor_env.hpp), shared by the E2EE key and cross-signing
// tests.
#pragma once

#include "actors/streams/device_lists_writer.hpp"
#include "storage/stores/e2e_keys_store.hpp"
#include "tests/integration/actor_env.hpp"

#include <chrono>
#include <variant>

namespace axon::test {

template <class DB>
struct device_lists_env : actor_env<DB> {
  using base = actor_env<DB>;
  using base::pool;
  using base::self;
  using base::sys;
  device_lists_writer_actor writer;

  device_lists_env() {
    if (!this->ready()) return;
    writer = actors::spawn_device_lists_writer(*sys, this->writer_deps(),
                                               storage::e2e_keys_store(*pool).max_stream_id());
  }
  ~device_lists_env() {
    if (sys) base::stop(writer);
  }

  /// The writer's answer to `req` sent from `from`, or its error code.
  template <class Reply, class Req>
  std::variant<Reply, errc> ask(caf::scoped_actor& from, Req req) {
    std::variant<Reply, errc> out = errc::timeout;
    from->request(writer, std::chrono::seconds(30), std::move(req))
      .receive([&](Reply& r) { out = std::move(r); },
               [&](caf::error& err) { out = from_caf_error(err).first; });
    return out;
  }
  /// A write answered with its stream position, from the fixture's actor.
  template <class Req>
  std::variant<int64_t, errc> ask(Req req) {
    return ask<int64_t>(*self, std::move(req));
  }
};

} // namespace axon::test

/// Declares `device_lists_env<DB> e`, or skips the case when its database
/// is not available.
#define AXON_DEVICE_LISTS_ENV_OR_SKIP(e)                                                          \
  axon::test::device_lists_env<DB> e;                                                              \
  if (!e.ready()) {                                                                                \
    MESSAGE(std::string(e.db.skip_reason()));                                                      \
    return;                                                                                        \
  }
