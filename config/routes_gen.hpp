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
  /// An "events" endpoint with sharded writers: the pool is route_plan::room_shards[i] for
  /// the room's writer i; `pool` is the fallback (hashed by room over the writers) where the
  /// proxy cannot compute the shard (nginx without njs, a path without a room).
  bool room_shard = false;
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
  /// Several events writers (stream_writers.events) with client listeners: one pool per
  /// writer, in the order of that list, so that room_shards[stream_writer_for index] is the
  /// room's writer (a writer without a client listener: a pool of every client instance).
  /// Empty: no sharding to do (no writers, one writer, or none reachable).
  std::vector<std::string> room_shards;
  std::vector<std::string> room_shard_writers; ///< stream_writers.events, for comments
  /// nginx: where the njs module of render_njs is installed (js_import); empty: no njs, rooms
  /// are hashed by nginx over the writers (the fallback).
  std::string njs_path;
  const pool* find(const std::string& name) const;
};

struct routes_result {
  std::string text;                ///< set when `errors` is empty
  std::string njs;                 ///< nginx with njs_path: the module to install there
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
/// The njs module (njs 0.7, ngx_http_js_module) that render_nginx imports from
/// plan.njs_path: `room_shard(r)`, the index of the request's room's events writer (as a
/// string; "" for a path without a room), and `writer_index(room_id, n)`.
std::string render_njs(const route_plan& plan);

/// The file name render_njs's module is given next to the nginx snippet.
inline const char* const njs_file_name = "axon_routes.js";

/// plan_routes + the renderer for `kind` ("nginx" or "haproxy"). nginx with a non-empty
/// `njs_path`: the snippet imports the njs module from there, and `njs` holds its text.
routes_result generate_routes(const std::string& kind, const homeserver_config& shared,
                              const std::vector<homeserver_config>& workers,
                              const std::vector<endpoint>& table, int listen_port,
                              const std::string& njs_path = "");

} // namespace axon::config
