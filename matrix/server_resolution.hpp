// matrix/server_resolution.hpp -- where to send a request for a server name
// (server-server API, "Resolving server names"): IP literals, explicit
// ports, /.well-known/matrix/server delegation, SRV records
// (_matrix-fed._tcp, then the deprecated _matrix._tcp), port 8448. Pure:
// the well-known fetch and the SRV lookups are the caller's (they are I/O);
// A/AAAA resolution of the chosen host is the HTTP client's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axon::matrix {

/// A server name split: host (an IPv6 literal keeps its brackets), the port
/// when one is given, and whether the host is an IP literal.
struct server_address {
  std::string host;
  std::optional<int> port;
  bool ip_literal = false;
  /// host[:port] as written.
  std::string str() const { return port ? host + ":" + std::to_string(*port) : host; }
};

/// Parses `name` (valid_server_name's grammar, port 1-65535); nullopt otherwise.
std::optional<server_address> parse_server_address(std::string_view name);

/// The `m.server` of a /.well-known/matrix/server answer body, when it is a
/// JSON object whose m.server is a valid server name; nullopt otherwise
/// (the spec then goes on as if there were no delegation).
std::optional<std::string> parse_well_known_server(std::string_view body);

/// How long a /.well-known/matrix/server answer is kept (Synapse 1.67's
/// well_known_resolver): a valid answer 24 h (the caller adds jitter) unless
/// its headers say otherwise, within [5 min, 48 h]; a failed or invalid one
/// 1 h, or 2 min when a valid one was seen lately.
namespace well_known_cache {
constexpr int64_t default_ms = 24LL * 3600 * 1000;
constexpr int64_t min_ms = 5LL * 60 * 1000;
constexpr int64_t max_ms = 48LL * 3600 * 1000;
constexpr int64_t invalid_ms = 3600LL * 1000;
constexpr int64_t down_ms = 2LL * 60 * 1000;
constexpr int64_t max_size = 50 * 1024; ///< bytes of answer read at most
} // namespace well_known_cache

/// The caching period an answer's `Cache-Control` and `Expires` headers give,
/// in ms (RFC 9111 as Synapse reads it): 0 for no-store, max-age's seconds,
/// else Expires minus `now_ms` (0 for an unreadable date); nullopt when
/// neither says anything. Not yet clamped to [min_ms, max_ms].
std::optional<int64_t> well_known_cache_period(const std::string& cache_control, const std::string& expires,
                                               int64_t now_ms);

/// One SRV record's target.
struct srv_record {
  std::string target; ///< a host name (the trailing dot removed)
  int port = 0;
  int priority = 0;
  int weight = 0;
};

/// RFC 2782 order: lowest priority first; within one priority, a weighted
/// random order (`uniform(n)` returns a number in [0, n)). A single record
/// with target "." means the service is not offered: the result is empty.
std::vector<srv_record> order_srv(std::vector<srv_record> records,
                                  const std::function<uint64_t(uint64_t)>& uniform);

/// Where to connect and how to present the request.
struct federation_target {
  std::string connect_host; ///< a host name or IP literal for the HTTP client to resolve
  int port = 8448;
  std::string host_header;  ///< the Host header
  std::string tls_name;     ///< the name the certificate must be valid for (and SNI, unless an IP)
  friend bool operator==(const federation_target& a, const federation_target& b) {
    return a.connect_host == b.connect_host && a.port == b.port && a.host_header == b.host_header &&
           a.tls_name == b.tls_name;
  }
};

/// The lookups resolution needs, done by the caller.
struct resolution_lookups {
  /// The m.server of https://<host>/.well-known/matrix/server (redirects
  /// followed, cached as the spec says), or nullopt when it failed or was
  /// invalid (parse_well_known_server).
  std::function<std::optional<std::string>(const std::string& host)> well_known;
  /// The SRV records of `name` (e.g. "_matrix-fed._tcp.example.org") in
  /// the order to try (order_srv), empty when there are none.
  std::function<std::vector<srv_record>(const std::string& name)> srv;
};

/// The targets to try in order for `server_name`, by the spec's steps; an
/// empty list when the name is not a valid server name.
std::vector<federation_target> resolve_server_name(const std::string& server_name,
                                                   const resolution_lookups& lookups);

} // namespace axon::matrix
