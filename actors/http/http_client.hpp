// actors/http/http_client.hpp -- the instance's outbound HTTP client: one
// event loop (an Asio thread) per instance, a pool of keep-alive
// connections per destination, TLS with certificate verification, bounded
// connections per destination and overall (further requests queue, FIFO),
// connect and request timeouts, a response size limit. HTTP replication
// calls it (transport/replication_client.cpp); federation, push gateways
// and application services will. The CAF face is http_client_actor.hpp.
//
// No Boost or CAF here (pimpl): request threads and the transport include it.
#pragma once

#include "messages/outbound_http.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace axon::config { struct http_client_config; }

namespace axon::http {

using msg::outbound_request;
using msg::outbound_response;

/// What an admin needs to see overload, per destination and in all. Kept up
/// to date by the event loop; read them from any thread (no metrics
/// endpoint yet).
struct pool_counters {
  std::atomic<int> open{0};      ///< connections open or being opened (busy and idle)
  std::atomic<int> idle{0};      ///< of those, kept alive waiting for a request
  std::atomic<int> in_flight{0}; ///< requests on a connection (connecting, sending or waiting)
  std::atomic<int> queued{0};    ///< requests waiting for a connection (a limit was reached)
  std::atomic<uint64_t> connections_opened{0}; ///< ever, so reuse shows as few opened for many requests
  std::atomic<uint64_t> answered{0};           ///< requests that got an HTTP answer
  std::atomic<uint64_t> failed{0};             ///< requests that got none (error or timeout)
};

/// One destination's counters: "http://host:port", "https://host:port"
/// (plus "#<tls_server_name>" when set) or "unix:/path".
struct pool_snapshot {
  std::string destination;
  int open = 0, idle = 0, in_flight = 0, queued = 0;
  uint64_t connections_opened = 0, answered = 0, failed = 0;
};

/// How connections of one kind are checked: whose certificates are
/// trusted and which addresses may be connected to.
struct tls_policy {
  std::vector<std::string> ca_files; ///< trusted beside the system's CAs (or instead: below)
  /// false: only `ca_files` are trusted (federation_custom_ca_list replaces
  /// the system's CAs). Default: true.
  bool system_cas = true;
  /// false: accept any certificate (federation_verify_certificates: false,
  /// tests). Default: true.
  bool verify_certificates = true;
  /// The TLS name (SNI, certificate name) whose certificate is not checked
  /// even though verify_certificates is true
  /// (federation_certificate_verification_whitelist). Default: none.
  std::function<bool(const std::string& tls_name)> skip_verification;
  /// Oldest TLS version offered: "1", "1.1", "1.2" or "1.3"
  /// (federation_client_minimum_tls_version). Default: "1.2".
  std::string minimum_tls_version = "1.2";
  /// Whether a resolved (or literal) address may be connected to, given as
  /// text ("127.0.0.1", "::1"): addresses it refuses are skipped, and a
  /// host with none left fails "no allowed address" (ip_range_blocklist
  /// for federation). Unix sockets are not filtered. Default: all allowed.
  std::function<bool(const std::string& address)> address_allowed;
};

struct http_client_options {
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 60000;
  int max_connections_per_destination = 32;
  int max_connections = 1024;
  int idle_timeout_ms = 60000;
  int64_t max_response_size = 50 * 1024 * 1024;
  /// Requests of the instance's own (replication; later push gateways and
  /// application services): the system's CAs plus `http_client.ca_files`.
  tls_policy tls;
  /// Requests marked `federation` (outbound_request::federation): other
  /// homeservers, with the federation TLS keys and ip_range_blocklist.
  /// Default: the same as `tls`.
  std::optional<tls_policy> federation;
};

/// The options of the `http_client` config section (the federation policy
/// is the caller's: actors/federation/federation_client.hpp).
http_client_options client_options(const config::http_client_config& c);

class http_client {
public:
  /// Starts the event loop. Throws std::runtime_error naming
  /// `http_client.ca_files` when a CA file cannot be loaded.
  explicit http_client(http_client_options options);
  /// Fails what is still queued or running ("http client stopped") and
  /// joins the event loop.
  ~http_client();
  /// Fails what is queued or running and refuses what comes next, without
  /// waiting: at shutdown, so that no pending answer keeps what its
  /// callback holds (actors, the client itself) alive.
  void stop();

  /// Sends `req`; `done` runs once, on the event loop thread (keep it
  /// short, never call `call` from it), with the answer or the failure.
  void request(outbound_request req, std::function<void(outbound_response)> done);
  /// Sends `req` and waits for the answer (request threads). Never longer
  /// than the request's timeout. Called on the event loop it would wait for
  /// itself: it answers an error instead.
  outbound_response call(outbound_request req);

  /// All destinations together.
  const pool_counters& totals() const;
  /// One destination's counters (see pool_snapshot for the key), or null
  /// when nothing was sent there yet. Stays valid as long as the client.
  std::shared_ptr<const pool_counters> counters(const std::string& destination) const;
  /// Every destination's counters now.
  std::vector<pool_snapshot> snapshot() const;

  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace axon::http
