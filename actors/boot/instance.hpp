// actors/boot/instance.hpp -- one instance's parts, assembled from its config:
// the stores, the roles its placement gives it (stream_writers and the
// other placement keys), the stream bus and notifier, the transports, and
// the context request handlers run with. `axon` builds one per process
// (boot.cpp); the placement simulation (tests/sim) builds several in one
// process, with its network and scheduler in `instance_links`.
#pragma once

#include "actors/http/http_types.hpp"
#include "messages/caf_types.hpp"
#include "transport/pubsub.hpp"
#include "transport/replication_client.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace axon::config { struct homeserver_config; }
namespace axon::matrix { struct signing_key; class environment; }
namespace axon::storage { class pool; }

namespace axon::boot {

/// What connects an instance to the others; every part defaults to the real
/// one (HTTP replication to instance_map, Redis when redis.enabled, request
/// threads that block).
struct instance_links {
  /// Requests to other instances' roles.
  std::shared_ptr<transport::remote_calls> remote;
  /// The pub/sub wire, given what it must feed.
  std::function<std::unique_ptr<transport::pubsub_wire>(transport::pubsub_receiver_deps)> pubsub;
  /// See transport::local_roles::before_receive.
  std::function<void(caf::blocking_actor*)> before_receive;
  /// Several events writers: who says which writers run (default: the
  /// database's pg_stat_activity, actors/notifier/writer_liveness.hpp).
  writer_liveness_actor liveness;
  /// The clock and randomness (default: the system's).
  matrix::environment* env = nullptr;
};

class instance {
public:
  /// Spawns the roles of `cfg.instance_name()` over `pool` (migrated) and
  /// builds its transports. Throws std::runtime_error with a message for
  /// the operator when it cannot. `cfg`, `sys`, `pool` and `key` must
  /// outlive it.
  instance(const config::homeserver_config& cfg, caf::actor_system& sys, storage::pool& pool,
           const matrix::signing_key& key, instance_links links = {});
  /// Stops every actor it spawned.
  ~instance();

  /// What request handlers run with.
  http::server_context& context();
  /// Every endpoint (listeners serve those of their resources).
  const std::vector<http::route>& routes() const;
  /// The notifier (the simulation waits on it as /sync does).
  notifier_actor notifier() const;
  /// Long-polls parked on the notifier now (overload figures).
  size_t long_polls_waiting() const;
  /// The outbound HTTP client actor (actors/http/http_client_actor.hpp).
  http_client_actor http_client() const;

  instance(const instance&) = delete;
  instance& operator=(const instance&) = delete;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace axon::boot
