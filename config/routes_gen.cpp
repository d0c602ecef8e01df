// config/routes_gen.cpp -- the routing plan and its nginx / haproxy renderings.
#include "config/routes_gen.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace axon::config {

namespace {

// --- constants ---

const char* const client_pool = "axon_client";
const char* const sync_pool = "axon_sync";
const char* const initial_sync_pool = "axon_initial_sync";
const char* const events_pool = "axon_events";
const char* const media_pool = "axon_media";
const char* const federation_pool = "axon_federation";
const char* const federation_send_pool = "axon_federation_send";

/// What a `{v}` segment accepts (actors/http/router.cpp, known_version).
const char* const version_regex = "(?:r0|v3|v1)";

/// The body nginx answers for refused paths: the same error Axon gives.
const char* const unrecognized_json =
    R"({"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"})";

// --- helpers ---

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = path.empty() || path[0] != '/' ? 0 : 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool is_param(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

std::string escape_regex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

bool wildcard_address(const std::string& a) {
  return a.empty() || a == "::" || a == "0.0.0.0" || a == "*" || a == "[::]";
}

/// Where a proxy reaches `listeners` for `resource`: the first plain-HTTP
/// listener that serves it. TLS listeners are left out (the proxy would need
/// their certificate); a wildcard bind address is reached on 127.0.0.1.
std::optional<std::string> address_for(const std::vector<listener_config>& listeners,
                                       const std::string& resource) {
  for (auto& l : listeners) {
    if (l.type != "http" || l.tls || !l.has_resource(resource)) continue;
    if (!l.path.empty()) return "unix:" + l.path;
    std::string host = "127.0.0.1";
    if (!l.bind_addresses.empty() && !wildcard_address(l.bind_addresses.front()))
      host = l.bind_addresses.front();
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    return host + ":" + std::to_string(l.port);
  }
  return std::nullopt;
}

struct instance {
  std::string name;
  const std::vector<listener_config>* listeners;
};

std::vector<pool_server> servers_for(const std::vector<instance>& instances,
                                     const std::string& resource,
                                     const std::vector<std::string>* only = nullptr) {
  std::vector<pool_server> out;
  for (auto& i : instances) {
    if (only && std::find(only->begin(), only->end(), i.name) == only->end()) continue;
    if (auto a = address_for(*i.listeners, resource)) out.push_back({i.name, *a});
  }
  return out;
}

/// The balance of a stream's pool when it has several writers.
balance writer_balance(const std::string& stream) {
  if (stream == "receipts" || stream == "events") return balance::room;
  if (stream == "device_lists") return balance::user;
  return balance::round_robin;
}

std::string methods_comment(const std::set<std::string>& methods, const std::string& tmpl) {
  std::string out;
  for (auto& m : methods) out += (out.empty() ? "" : ",") + m;
  return out + " " + tmpl;
}

} // namespace

// --- templates ---

std::string template_regex(const std::string& prefix, const std::string& path) {
  std::string out = "^";
  for (auto& seg : segments(prefix + path)) {
    out += '/';
    if (seg == "{v}") out += version_regex;
    else if (is_param(seg)) out += "[^/]+";
    else out += escape_regex(seg);
  }
  return out + "/?$";
}

bool more_specific(const std::string& a, const std::string& b) {
  auto sa = segments(a), sb = segments(b);
  for (size_t i = 0; i < sa.size() && i < sb.size(); ++i) {
    bool pa = is_param(sa[i]), pb = is_param(sb[i]);
    if (pa != pb) return !pa; // a literal before a parameter
    if (!pa && sa[i] != sb[i]) return sa[i] < sb[i];
  }
  return sa.size() < sb.size();
}

const pool* route_plan::find(const std::string& name) const {
  for (auto& p : pools)
    if (p.name == name) return &p;
  return nullptr;
}

// --- the plan ---

route_plan plan_routes(const homeserver_config& shared, const std::vector<homeserver_config>& workers,
                       const std::vector<endpoint>& table, int listen_port,
                       std::vector<std::string>& errors) {
  route_plan plan;
  plan.listen_port = listen_port;
  plan.max_body_size = shared.max_upload_size;
  plan.server_name = shared.server_name;
  plan.default_pool = client_pool;
  plan.initial_sync_pool = initial_sync_pool;

  std::vector<instance> instances{{"main", &shared.listeners}};
  std::set<std::string> names{"main"};
  // Who holds the media repository: main with enable_media_repo, media_repository workers.
  std::vector<std::string> media_holders;
  if (shared.serves_media()) media_holders.push_back("main");
  for (auto& w : workers) {
    if (!w.is_worker()) {
      errors.push_back("a worker config has no worker_app (is it the main process's file?)");
      continue;
    }
    if (!names.insert(w.worker_name).second) {
      errors.push_back("worker_name '" + w.worker_name + "' is given twice");
      continue;
    }
    instances.push_back({w.worker_name, &w.worker_listeners});
    if (w.serves_media()) media_holders.push_back(w.worker_name);
  }

  auto add_pool = [&](const std::string& name, balance how, std::vector<pool_server> servers) {
    plan.pools.push_back({name, how, std::move(servers)});
  };
  auto client = servers_for(instances, "client");
  if (client.empty())
    errors.push_back("no instance has a plain http listener with the `client` resource "
                     "(listeners or worker_listeners)");
  add_pool(client_pool, balance::round_robin, client);
  add_pool(sync_pool, balance::user, client);
  add_pool(initial_sync_pool, balance::user, client);
  // Event writes (sends, state, redactions, membership): to the room's events writer, so that
  // they are persisted where they land instead of being forwarded over replication. Rooms are
  // sharded as config::stream_writer_for does: writers[sha256 mod n], over the FULL list in its
  // order. The proxy computes that index where it can (njs, haproxy converters); `axon_events`
  // is the fallback, a room hash over the writers. No writers (or none reachable): every
  // client instance, hashed by room, as the server forwards anyway.
  const auto* event_writers = shared.stream_writers.find("events");
  std::vector<pool_server> writer_servers;
  if (event_writers) writer_servers = servers_for(instances, "client", event_writers);
  if (writer_servers.empty()) {
    add_pool(events_pool, balance::room, client);
  } else if (event_writers->size() == 1) {
    add_pool(events_pool, balance::round_robin, writer_servers); // straight to it
  } else {
    add_pool(events_pool, balance::room, writer_servers);
    for (size_t i = 0; i < event_writers->size(); ++i) {
      std::vector<std::string> one{(*event_writers)[i]};
      auto own = servers_for(instances, "client", &one);
      // A writer without a client listener: its rooms go to anyone, which forwards.
      auto name = std::string(events_pool) + "_" + std::to_string(i);
      add_pool(name, balance::round_robin, own.empty() ? client : own);
      plan.room_shards.push_back(name);
      plan.room_shard_writers.push_back((*event_writers)[i]);
    }
  }

  // Paths that never go through the proxy, then whole-prefix resources
  // (prefix rules win over regexes in nginx; listed first for haproxy).
  plan.rules.push_back({location_rule::prefix, "/_axon/", "", "replication: never exposed"});
  plan.rules.push_back({location_rule::prefix, "/_synapse/replication/", "", "replication: never exposed"});
  // Media: to the holders' `media` listeners, else main's client listeners
  // (main serves media on `client` too, as Synapse's does; workers only on `media`).
  auto media = servers_for(instances, "media", &media_holders);
  std::vector<std::string> main_only{"main"};
  if (media.empty() && shared.serves_media()) media = servers_for(instances, "client", &main_only);
  if (!media.empty()) {
    add_pool(media_pool, balance::round_robin, media);
    for (const char* p : {"/_matrix/client/v1/media/", "/_matrix/federation/v1/media/", "/_matrix/media/"})
      plan.rules.push_back({location_rule::prefix, p, media_pool, "media repository"});
  }
  if (auto fed = servers_for(instances, "federation"); !fed.empty()) {
    add_pool(federation_pool, balance::round_robin, fed);
    add_pool(federation_send_pool, balance::source_ip, fed);
    plan.rules.push_back({location_rule::prefix, "/_matrix/federation/v1/send/", federation_send_pool,
                          "inbound federation transactions, by origin address"});
    plan.rules.push_back({location_rule::prefix, "/_matrix/federation/", federation_pool, "federation"});
    plan.rules.push_back({location_rule::prefix, "/_matrix/key/", federation_pool, "server keys"});
  }

  // One rule per path template of the table.
  struct tmpl_info {
    std::string prefix, path, resource, owner;
    std::set<std::string> methods;
  };
  std::map<std::string, tmpl_info> templates;
  for (auto& e : table) {
    auto key = e.prefix + e.path;
    auto [it, fresh] = templates.try_emplace(key, tmpl_info{e.prefix, e.path, e.resource, e.owner, {}});
    auto& t = it->second;
    t.methods.insert(e.method);
    if (!fresh && t.resource != e.resource)
      errors.push_back(key + ": served by resources '" + t.resource + "' and '" + e.resource + "'");
    if (!fresh && !e.owner.empty() && !t.owner.empty() && t.owner != e.owner)
      errors.push_back(key + ": owned by '" + t.owner + "' and '" + e.owner + "'");
    if (t.owner.empty()) t.owner = e.owner;
  }
  std::vector<std::string> order;
  for (auto& [key, t] : templates) order.push_back(key);
  std::stable_sort(order.begin(), order.end(), more_specific);

  std::map<std::string, std::string> resource_pools{{"client", client_pool}};
  // The media admin API (resource media, outside the media prefixes) goes where media does.
  if (plan.find(media_pool)) resource_pools["media"] = media_pool;
  auto pool_for_resource = [&](const std::string& resource) -> std::string {
    if (auto it = resource_pools.find(resource); it != resource_pools.end()) return it->second;
    std::string name;
    if (auto servers = servers_for(instances, resource); !servers.empty()) {
      name = "axon_" + resource;
      if (!plan.find(name)) add_pool(name, balance::round_robin, servers);
    }
    return resource_pools[resource] = name;
  };
  std::map<std::string, std::string> writer_pools;
  auto pool_for_writer = [&](const std::string& stream) -> std::string {
    if (auto it = writer_pools.find(stream); it != writer_pools.end()) return it->second;
    const auto* writers = shared.stream_writers.find(stream);
    std::string name = client_pool; // the writer has no client listener: anyone
    if (writers) {
      auto servers = servers_for(instances, "client", writers);
      if (!servers.empty()) {
        name = "axon_" + stream;
        add_pool(name, servers.size() > 1 ? writer_balance(stream) : balance::round_robin, servers);
      }
    }
    return writer_pools[stream] = name;
  };

  for (auto& key : order) {
    auto& t = templates[key];
    if (t.resource == "replication") continue; // never routed
    location_rule rule{location_rule::regex, template_regex(t.prefix, t.path), "",
                       methods_comment(t.methods, key)};
    if (t.resource != "client") {
      rule.pool = pool_for_resource(t.resource);
      if (rule.pool.empty()) continue; // nobody serves it: the default answers M_UNRECOGNIZED
    } else if (t.owner.empty()) {
      rule.pool = client_pool;
    } else if (t.owner == "sync") {
      rule.pool = sync_pool;
      rule.sync = true;
    } else if (t.owner == "initial_sync") {
      rule.pool = initial_sync_pool;
    } else if (t.owner == "events") {
      rule.pool = events_pool;
      rule.room_shard = !plan.room_shards.empty();
    } else if (shared.stream_writers.find(t.owner)) {
      rule.pool = pool_for_writer(t.owner);
    } else {
      errors.push_back(key + ": unknown owner '" + t.owner + "'");
      continue;
    }
    if (t.owner.size()) rule.comment += "  [" + t.owner + "]";
    plan.rules.push_back(std::move(rule));
  }
  return plan;
}

// --- nginx ---

namespace {

std::string layout_comment(const route_plan& plan, const char* tool) {
  std::ostringstream os;
  os << "# Generated by `axon routes " << tool << "` for " << plan.server_name
     << ". Regenerate it when the layout changes.\n# Pools:\n";
  for (auto& p : plan.pools) {
    os << "#   " << p.name << ":";
    for (auto& s : p.servers) os << " " << s.instance << "=" << s.address;
    os << "\n";
  }
  return os.str();
}

const char* nginx_hash(balance how) {
  switch (how) {
  case balance::user: return "hash $axon_user consistent;";
  case balance::room: return "hash $axon_room consistent;";
  case balance::source_ip: return "hash $remote_addr consistent;";
  case balance::round_robin: break;
  }
  return nullptr;
}

} // namespace

std::string render_nginx(const route_plan& plan) {
  std::ostringstream os;
  os << layout_comment(plan, "nginx")
     << "# Include it in nginx's http {} context (e.g. /etc/nginx/conf.d/axon.conf).\n"
        "# Give the instances' listeners `x_forwarded: true` so they see client addresses.\n\n";

  os << "# The user of a request, for sticky /sync: tokens look like syt_<localpart>_<random>_<crc>.\n"
        "map $arg_access_token $axon_user_from_query {\n"
        "    default $arg_access_token;\n"
        "    \"~^syt_(?<axon_lp_query>[^_]*)_\" $axon_lp_query;\n"
        "}\n"
        "map $http_authorization $axon_user {\n"
        "    default $http_authorization;\n"
        "    \"~^Bearer syt_(?<axon_lp_header>[^_]*)_\" $axon_lp_header;\n"
        "    \"\" $axon_user_from_query;\n"
        "}\n"
        "# The room of a request (the segment after /rooms/ or /join/).\n"
        "map $uri $axon_room {\n"
        "    default \"\";\n"
        "    \"~^/_matrix/client/[^/]+/(?:rooms|join)/(?<axon_room_id>[^/]+)\" $axon_room_id;\n"
        "}\n"
        "# Initial syncs (no `since`) apart from incremental ones.\n"
        "map $arg_since $axon_sync_upstream {\n"
        "    default " << sync_pool << ";\n"
        "    \"\" " << plan.initial_sync_pool << ";\n"
        "}\n\n";

  const bool njs = !plan.room_shards.empty() && !plan.njs_path.empty();
  if (njs) {
    os << "# Event writes go to the room's events writer, computed as the server shards rooms\n"
          "# (writers[sha256(room id) mod n]) by the njs module next to this file. It needs\n"
          "# ngx_http_js_module in nginx's main context (Debian: libnginx-mod-http-js), e.g.\n"
          "#   load_module /usr/lib/nginx/modules/ngx_http_js_module.so;\n"
          "js_import axon_routes from " << plan.njs_path << ";\n"
          "js_set $axon_room_shard axon_routes.room_shard;\n"
          "map $axon_room_shard $axon_events_upstream {\n"
          "    default " << events_pool << ";  # no room in the path: hashed by room\n";
    for (size_t i = 0; i < plan.room_shards.size(); ++i)
      os << "    " << i << " " << plan.room_shards[i] << ";  # " << plan.room_shard_writers[i] << "\n";
    os << "}\n\n";
  } else if (!plan.room_shards.empty()) {
    os << "# FALLBACK without njs: event writes are hashed by room over the events writers with\n"
          "# nginx's own hash, which is NOT the servers' sharding: about half of them land on\n"
          "# a writer that does not own the room and forwards them (correct, but slower).\n"
          "# `axon routes nginx --js-dir DIR` writes an njs module that sends each room's\n"
          "# writes to its own writer.\n\n";
  }

  for (auto& p : plan.pools) {
    if (p.servers.empty()) continue;
    os << "upstream " << p.name << " {\n";
    if (auto h = nginx_hash(p.how)) os << "    " << h << "\n";
    for (auto& s : p.servers) os << "    server " << s.address << ";  # " << s.instance << "\n";
    os << "}\n";
  }

  os << "\nserver {\n"
     << "    listen " << plan.listen_port << ";\n";
  if (!plan.server_name.empty()) os << "    server_name " << plan.server_name << ";\n";
  os << "    client_max_body_size " << plan.max_body_size << ";\n"
     << "    proxy_http_version 1.1;\n"
        "    proxy_set_header Host $host;\n"
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "    proxy_set_header X-Forwarded-Proto $scheme;\n"
        "    proxy_read_timeout 180s;  # long-polling /sync\n\n"
        "    # Regex locations are tried in this order; the first match wins.\n";
  for (auto& r : plan.rules) {
    os << "    # " << r.comment << "\n";
    if (r.kind == location_rule::prefix) os << "    location ^~ " << r.pattern << " {\n";
    else os << "    location ~ \"" << r.pattern << "\" {\n";
    if (r.pool.empty())
      os << "        default_type application/json;\n"
         << "        return 404 '" << unrecognized_json << "';\n";
    else if (r.sync)
      os << "        proxy_pass http://$axon_sync_upstream;\n";
    else if (r.room_shard && njs)
      os << "        proxy_pass http://$axon_events_upstream;\n";
    else
      os << "        proxy_pass http://" << r.pool << ";\n";
    os << "    }\n";
  }
  os << "    # Everything else: any instance with the client resource.\n"
     << "    location / {\n        proxy_pass http://" << plan.default_pool << ";\n    }\n}\n";
  return os.str();
}

// --- njs ---

std::string render_njs(const route_plan& plan) {
  std::ostringstream os;
  os << "// Generated by `axon routes nginx --js-dir DIR` for " << plan.server_name
     << ": njs module (njs 0.7+)\n"
        "// imported by the nginx snippet. Regenerate both when the layout changes.\n"
        "//\n"
        "// The events writer of a room, as the server (config::stream_writer_for) and Synapse\n"
        "// shard rooms: writers[int.from_bytes(sha256(room_id), \"little\") % writers.length],\n"
        "// over stream_writers.events in its order:\n//  ";
  for (size_t i = 0; i < plan.room_shards.size(); ++i)
    os << " " << i << "=" << plan.room_shard_writers[i] << " (" << plan.room_shards[i] << ")";
  os << "\n"
        "var crypto = require('crypto');\n\n"
        "var WRITERS = " << plan.room_shards.size() << ";\n\n"
        "// The index of room_id's writer among n: the little-endian digest mod n, from its most\n"
        "// significant (last) byte down, one byte at a time (r < n keeps it exact).\n"
        "function writer_index(room_id, n) {\n"
        "    var hex = crypto.createHash('sha256').update(room_id).digest('hex');\n"
        "    var r = 0;\n"
        "    for (var i = hex.length - 2; i >= 0; i -= 2) {\n"
        "        r = (r * 256 + parseInt(hex.substring(i, i + 2), 16)) % n;\n"
        "    }\n"
        "    return r;\n"
        "}\n\n"
        "// js_set $axon_room_shard: the room's writer index for /rooms/{roomId}/... and\n"
        "// /join/{roomIdOrAlias} (r.uri is URL-decoded, so is the room id), \"\" otherwise.\n"
        "function room_shard(r) {\n"
        "    var m = /^\\/_matrix\\/client\\/[^\\/]+\\/(?:rooms|join)\\/([^\\/]+)/.exec(r.uri);\n"
        "    if (!m || WRITERS < 2) return '';\n"
        "    return String(writer_index(m[1], WRITERS));\n"
        "}\n\n"
        "export default {room_shard: room_shard, writer_index: writer_index};\n";
  return os.str();
}

// --- haproxy ---

std::string render_haproxy(const route_plan& plan) {
  std::ostringstream os;
  os << layout_comment(plan, "haproxy")
     << "# haproxy 2.6 or newer (balance hash). Append to haproxy.cfg.\n\n"
     << "frontend axon\n"
     << "    mode http\n"
     << "    bind :" << plan.listen_port << "\n"
     << "    timeout client 180s\n"
     << "    option forwardfor\n"
     << "    http-request set-header X-Forwarded-Proto https if { ssl_fc }\n"
     << "    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }\n"
     << "    http-request deny deny_status 413 if { req.hdr_val(content-length) gt "
     << plan.max_body_size << " }\n";
  for (auto& r : plan.rules)
    if (r.pool.empty())
      os << "    http-request deny deny_status 404 if { path_beg " << r.pattern << " }  # "
         << r.comment << "\n";
  os << "    # The user (syt_<localpart>_...) for sticky /sync, the room for event sending.\n"
        "    http-request set-var(txn.axon_user) url_param(access_token),field(2,_) "
        "if { url_param(access_token) -m found }\n"
        "    http-request set-var(txn.axon_user) req.hdr(authorization),field(2,_) "
        "if { req.hdr(authorization) -m sub syt_ }\n"
        "    http-request set-var(txn.axon_room) path,field(6,/)\n";
  if (size_t n = plan.room_shards.size(); n > 0) {
    // int.from_bytes(digest, "little") mod n = sum(byte_i * (256^i mod n)) mod n; each term is
    // below 255 * n, so the sum of the 32 fits haproxy's 64-bit integers.
    os << "    # Event writes go to the room's events writer, as the server shards rooms:\n"
          "    # writers[int.from_bytes(sha256(room id), little) mod " << n << "], stream_writers.events\n"
          "    # in order:";
    for (size_t i = 0; i < n; ++i) os << " " << i << "=" << plan.room_shard_writers[i];
    os << ". Digest byte i weighs 256^i mod " << n << "; bytes of weight 0 are left out.\n"
          "    acl axon_room_path path_reg ^/_matrix/client/[^/]+/(?:rooms|join)/[^/]+\n"
          "    http-request set-var(txn.axon_digest) var(txn.axon_room),url_dec,sha2(256) "
          "if axon_room_path\n"
          "    http-request set-var(txn.axon_sum) int(0) if axon_room_path\n";
    unsigned long long w = 1 % n;
    for (int i = 0; i < 32; ++i, w = (w * 256) % n) {
      if (w == 0) continue;
      os << "    http-request set-var(txn.axon_sum) var(txn.axon_digest),bytes(" << i
         << ",1),hex,hex2i,mul(" << w << "),add(txn.axon_sum) if axon_room_path\n";
    }
    os << "    http-request set-var(txn.axon_shard) var(txn.axon_sum),mod(" << n
       << ") if axon_room_path\n";
  }
  os << "    # First match wins.\n";
  for (auto& r : plan.rules) {
    if (r.pool.empty()) continue;
    std::string cond = r.kind == location_rule::prefix ? "{ path_beg " + r.pattern + " }"
                                                       : "{ path_reg " + r.pattern + " }";
    os << "    # " << r.comment << "\n";
    if (r.room_shard) {
      os << "    use_backend " << r.pool << "_%[var(txn.axon_shard)] if " << cond
         << " { var(txn.axon_shard) -m found }\n"
         << "    use_backend " << r.pool << " if " << cond << "\n";
    } else if (r.sync) {
      os << "    use_backend " << r.pool << " if " << cond << " { url_param(since) -m found }\n"
         << "    use_backend " << plan.initial_sync_pool << " if " << cond << "\n";
    } else {
      os << "    use_backend " << r.pool << " if " << cond << "\n";
    }
  }
  os << "    default_backend " << plan.default_pool << "\n";

  for (auto& p : plan.pools) {
    if (p.servers.empty()) continue;
    os << "\nbackend " << p.name << "\n"
       << "    mode http\n"
       << "    timeout connect 5s\n"
       << "    timeout server 180s\n";
    switch (p.how) {
    case balance::round_robin: os << "    balance roundrobin\n"; break;
    case balance::user: os << "    balance hash var(txn.axon_user)\n    hash-type consistent\n"; break;
    case balance::room: os << "    balance hash var(txn.axon_room)\n    hash-type consistent\n"; break;
    case balance::source_ip: os << "    balance source\n    hash-type consistent\n"; break;
    }
    for (auto& s : p.servers) {
      // haproxy spells a unix socket as its path and an IPv6 address as ipv6@addr:port.
      auto addr = s.address;
      if (addr.rfind("unix:", 0) == 0) addr = addr.substr(5);
      else if (addr.front() == '[') addr = "ipv6@" + addr.substr(1, addr.find(']') - 1) +
                                           addr.substr(addr.find(']') + 1);
      os << "    server " << s.instance << " " << addr << "\n";
    }
  }
  return os.str();
}

routes_result generate_routes(const std::string& kind, const homeserver_config& shared,
                              const std::vector<homeserver_config>& workers,
                              const std::vector<endpoint>& table, int listen_port,
                              const std::string& njs_path) {
  routes_result out;
  if (kind != "nginx" && kind != "haproxy") {
    out.errors.push_back("unknown proxy kind '" + kind + "' (nginx or haproxy)");
    return out;
  }
  auto plan = plan_routes(shared, workers, table, listen_port, out.errors);
  if (!out.errors.empty()) return out;
  if (kind == "nginx") {
    plan.njs_path = njs_path;
    out.text = render_nginx(plan);
    if (!njs_path.empty()) out.njs = render_njs(plan);
  } else {
    out.text = render_haproxy(plan);
  }
  return out;
}

} // namespace axon::config
