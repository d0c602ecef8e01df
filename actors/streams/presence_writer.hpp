// actors/streams/presence_writer.hpp -- the presence stream's writer
// (`stream_writers.presence`, exactly one): Synapse's presence state machine
// (synapse/handlers/presence.py) with its timers.
#pragma once

#include "messages/caf_types.hpp"
#include "storage/database.hpp"

#include <chrono>
#include <functional>

namespace axon::actors {

/// Synapse's timers (synapse/handlers/presence.py).
/// Online users with no activity for this long become unavailable.
constexpr std::chrono::milliseconds presence_idle_timer{5 * 60 * 1000};
/// Online and unavailable users with no /sync (nor activity) for this long
/// become offline.
constexpr std::chrono::milliseconds presence_sync_online_timeout{30 * 1000};
/// `currently_active` holds while the last activity is at most this old;
/// activity bumps within it are not announced.
constexpr std::chrono::milliseconds presence_last_active_granularity{60 * 1000};

struct presence_timeouts {
  std::chrono::milliseconds idle = presence_idle_timer;                ///< Default: 5 min.
  std::chrono::milliseconds sync_online = presence_sync_online_timeout; ///< Default: 30 s.
  std::chrono::milliseconds last_active_granularity = presence_last_active_granularity; ///< 1 min.
};

struct presence_writer_deps {
  storage::pool* pool = nullptr;
  std::string instance_name; ///< this writer's instance (rows name it)
  caf::actor publisher;      ///< receives msg::stream_advanced (transport's stream bus)
  presence_timeouts timeouts; ///< shortened by tests
  /// Wall clock in ms since the epoch. Default (null): the system clock.
  /// Tests pass a clock they advance together with the CAF test clock.
  std::function<int64_t()> now;
  /// Own thread (it blocks on the database). Default: true; tests on CAF's
  /// test_coordinator spawn it scheduled to drive it by hand.
  bool detached = true;
};

/// Spawns the writer with the stream already persisted up to `start_pos`; it
/// loads every user not offline and restarts their timers.
presence_writer_actor spawn_presence_writer(caf::actor_system& sys, presence_writer_deps deps,
                                            int64_t start_pos);

} // namespace axon::actors
