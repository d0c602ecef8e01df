// config/routes_gen.hpp -- reverse-proxy routes (nginx, haproxy) generated
// from the layout and the endpoint table, so admins never copy regexes by hand.
//
// Input: the shared config (the main instance), the worker configs (each
// loaded as the worker loads itself: shared files + its own file) and the
// endpoint table (actors/client/routes.hpp turned into `endpoint`s).
// Output: proxy configuration text. Pure: no I/O, no CAF.
//
// Routing is about efficiency, never correctness: every instance with a
// `client` resource serves every client endpoint (writes are forwarded to
// their writer by the transport). The one hard rule is the listener
// resource: a path goes only to instances that serve its resource, and the
// replication resource is never routed.
#pragma once

#include "config/homeserver_config.hpp"

#include <string>
#include <vector>

namespace axon::config {

/// One endpoint of the route table (http::route without its handler).
struct endpoint {
  std::string method;   ///< "GET", "PUT", ...
  std::string prefix;   ///< e.g. "/_matrix/client/{v}"
  std::string path;     ///< e.g. "/rooms/{roomId}/send/{eventType}/{txnId}"
  std::string resource; ///< listener resource: "client", "replication", ...
  std::string owner;    ///< "", "events", "sync", or a stream writer name
};

/// How a pool spreads requests over its servers.
enum class balance {
  round_robin, ///< any server
  user,        ///< consistent hash of the access token's localpart (syt_<localpart>_...)
  room,        ///< consistent hash of the room id (or alias) after /rooms/ or /join/
  source_ip,   ///< consistent hash of the client address (federation /send)
};

/// One upstream server of a pool.
struct pool_server {
  std::string instance; ///< "main" or a worker_name
  std::string address;  ///< "127.0.0.1:8080", "[::1]:8080" or "unix:/path"
};

/// A named group of servers (an nginx upstream, a haproxy backend).
struct pool {
  std::string name; ///< "axon_client", "axon_typing", ...
  balance how = balance::round_robin;
  std::vector<pool_server> servers;
};

/// One routing rule, in match order: the first that matches wins.
struct location_rule {
  enum kind_t { prefix, regex } kind = regex;
  std::string pattern; ///< a path prefix, or an anchored PCRE regex on the decoded path
  std::string pool;    ///< the pool to send to; "" means refuse (404 M_UNRECOGNIZED)
  std::string comment; ///< what it is, e.g. "PUT /rooms/{roomId}/typing/{userId}"
  bool sync = false;   ///< /sync: `pool` without `since`, `initial_sync_pool` otherwise
};

/// The whole routing decision; the renderers only print it.
struct route_plan {
  std::vector<pool> pools;
  std::vector<location_rule> rules; ///< in match order, before the default
  std::string default_pool;         ///< everything else
  std::string initial_sync_pool;    ///< /sync without `since`
  int listen_port = 8008;
  int64_t max_body_size = 0;
  std::string server_name;
  const pool* find(const std::string& name) const;
};

struct routes_result {
  std::string text;                ///< set when `errors` is empty
  std::vector<std::string> errors; ///< what stopped the generation
};

/// The regex for a path template: `{v}` -> the versions the router accepts,
/// `{name}` -> one non-empty segment, a trailing slash tolerated, anchored.
std::string template_regex(const std::string& prefix, const std::string& path);

/// Orders templates (prefix + path) so that a more specific one comes first:
/// segment by segment, a literal before a parameter.
bool more_specific(const std::string& a, const std::string& b);

/// Decides pools and rules. `workers` are full worker configs; `errors` gets
/// every problem (no client instance, duplicate names, conflicting owners).
route_plan plan_routes(const homeserver_config& shared, const std::vector<homeserver_config>& workers,
                       const std::vector<endpoint>& table, int listen_port,
                       std::vector<std::string>& errors);

/// An nginx snippet for the `http {}` context (maps, upstreams, one server).
std::string render_nginx(const route_plan& plan);
/// haproxy `frontend` and `backend` sections (haproxy 2.6 or newer).
std::string render_haproxy(const route_plan& plan);

/// plan_routes + the renderer for `kind` ("nginx" or "haproxy").
routes_result generate_routes(const std::string& kind, const homeserver_config& shared,
                              const std::vector<homeserver_config>& workers,
                              const std::vector<endpoint>& table, int listen_port);

} // namespace axon::config
