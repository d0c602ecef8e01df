// Reverse-proxy route generation (config/routes_gen.hpp) on a hand-made
// table; tests/unit/actors/routes_table_test.cpp checks the real table.
#include "config/homeserver_config.hpp"
#include "config/routes_gen.hpp"

#include <doctest/doctest.h>

#include "config/layout.hpp"

#include <sodium.h>

#include <algorithm>
#include <regex>
#include <sstream>

using namespace axon::config;

namespace {

const char* const shared_yaml = R"yaml(
server_name: example.org
max_upload_size: 10M
database:
  name: psycopg2
  args: {user: axon, dbname: axon, host: 127.0.0.1}
listeners:
  - port: 8008
    bind_addresses: ['127.0.0.1']
    type: http
    x_forwarded: true
    resources: [{names: [client, federation]}]
  - port: 9093
    bind_addresses: ['127.0.0.1']
    type: http
    resources: [{names: [replication]}]
redis: {enabled: true}
instance_map:
  main: {host: 127.0.0.1, port: 9093}
  w1: {host: 127.0.0.1, port: 9101}
  w2: {host: 127.0.0.1, port: 9102}
stream_writers:
  typing: w1
  to_device: w1
  receipts: [w1, w2]
  events: [w2]
  presence: w2
)yaml";

std::string worker_yaml(const std::string& name, int port, int repl, const std::string& res) {
  return "worker_app: generic_worker\nworker_name: " + name +
         "\nworker_listeners:\n"
         "  - {type: http, port: " + std::to_string(repl) +
         ", bind_addresses: ['127.0.0.1'], resources: [{names: [replication]}]}\n"
         "  - {type: http, port: " + std::to_string(port) +
         ", bind_addresses: ['0.0.0.0'], resources: [{names: [" + res + "]}]}\n";
}

homeserver_config load(std::vector<std::pair<std::string, std::string>> docs) {
  auto r = load_config_from_strings(docs);
  std::string errs;
  for (auto& e : r.errors) errs += e.to_string() + "\n";
  REQUIRE_MESSAGE(r.config, errs);
  return *r.config;
}

struct layout {
  homeserver_config shared = load({{"homeserver.yaml", shared_yaml}});
  std::vector<homeserver_config> workers{
      load({{"homeserver.yaml", shared_yaml}, {"w1.yaml", worker_yaml("w1", 8101, 9101, "client")}}),
      load({{"homeserver.yaml", shared_yaml},
            {"w2.yaml", worker_yaml("w2", 8102, 9102, "client, media")}})};
};

const std::vector<endpoint> table = {
    {"GET", "/_matrix/client", "/versions", "client", ""},
    {"GET", "/_matrix/client/{v}", "/sync", "client", "sync"},
    {"PUT", "/_matrix/client/{v}", "/rooms/{roomId}/typing/{userId}", "client", "typing"},
    {"PUT", "/_matrix/client/{v}", "/rooms/{roomId}/send/{eventType}/{txnId}", "client", "events"},
    {"POST", "/_matrix/client/{v}", "/rooms/{roomId}/receipt/{receiptType}/{eventId}", "client",
     "receipts"},
    {"PUT", "/_matrix/client/{v}", "/presence/{userId}/status", "client", "presence"},
    {"GET", "/_matrix/client/{v}", "/presence/{userId}/status", "client", "presence"},
    {"PUT", "/_matrix/client/{v}", "/user/{userId}/account_data/{type}", "client", "account_data"},
    {"GET", "/_matrix/client/{v}", "/directory/room/{roomAlias}", "client", ""},
    {"GET", "/_matrix/client/{v}", "/directory/list/room/{roomId}", "client", ""},
    {"GET", "/_matrix/client/{v}", "/pushrules/global/{kind}/{ruleId}", "client", "push_rules"},
    {"GET", "/_matrix/client/{v}", "/pushrules/global/override/{ruleId}", "client", ""},
    {"POST", "/_axon/replication", "/{name}", "replication", ""},
};

const location_rule* first_match(const route_plan& plan, const std::string& path) {
  for (auto& r : plan.rules) {
    if (r.kind == location_rule::prefix ? path.rfind(r.pattern, 0) == 0
                                        : std::regex_search(path, std::regex(r.pattern)))
      return &r;
  }
  return nullptr;
}

std::vector<std::string> instances_of(const route_plan& plan, const std::string& pool_name) {
  std::vector<std::string> out;
  if (auto p = plan.find(pool_name))
    for (auto& s : p->servers) out.push_back(s.instance);
  return out;
}

} // namespace

TEST_CASE("template regexes match their paths and not their neighbours'") {
  auto send = std::regex(template_regex("/_matrix/client/{v}", "/rooms/{roomId}/send/{type}/{txn}"));
  CHECK(std::regex_search("/_matrix/client/v3/rooms/!a:b/send/m.room.message/1", send));
  CHECK(std::regex_search("/_matrix/client/r0/rooms/!a:b/send/m.room.message/1/", send));
  CHECK_FALSE(std::regex_search("/_matrix/client/v3/rooms/!a:b/send/m.room.message", send));
  CHECK_FALSE(std::regex_search("/_matrix/client/v3/rooms/!a:b/send/m.room.message/1/x", send));
  CHECK_FALSE(std::regex_search("/_matrix/client/v9/rooms/!a:b/send/m.room.message/1", send));
  CHECK_FALSE(std::regex_search("/_matrix/client/v3/rooms//send/m.room.message/1", send));
  auto versions = std::regex(template_regex("/_matrix/client", "/versions"));
  CHECK(std::regex_search("/_matrix/client/versions", versions));
  CHECK_FALSE(std::regex_search("/_matrix/client/versionsX", versions));
  // Literal dots are escaped.
  CHECK(template_regex("/a.b", "/c") == "^/a\\.b/c/?$");
}

TEST_CASE("more specific templates sort first") {
  CHECK(more_specific("/p/global/override/{id}", "/p/global/{kind}/{id}"));
  CHECK_FALSE(more_specific("/p/global/{kind}/{id}", "/p/global/override/{id}"));
  CHECK_FALSE(more_specific("/a/{x}", "/a/{y}"));
}

TEST_CASE("the plan sends each endpoint to the role that owns it") {
  layout l;
  std::vector<std::string> errors;
  auto plan = plan_routes(l.shared, l.workers, table, 8448, errors);
  REQUIRE(errors.empty());
  CHECK(plan.listen_port == 8448);
  CHECK(plan.max_body_size == 10 * 1024 * 1024);

  CHECK(instances_of(plan, "axon_client") == std::vector<std::string>{"main", "w1", "w2"});
  auto at = [&](const std::string& path) {
    auto r = first_match(plan, path);
    return r ? r->pool : std::string("<default>");
  };
  // Single writers with a client listener get their writer.
  CHECK(at("/_matrix/client/v3/rooms/!r:example.org/typing/@a:example.org") == "axon_typing");
  CHECK(instances_of(plan, "axon_typing") == std::vector<std::string>{"w1"});
  CHECK(at("/_matrix/client/v3/presence/@a:example.org/status") == "axon_presence");
  CHECK(instances_of(plan, "axon_presence") == std::vector<std::string>{"w2"});
  // Several receipts writers: hashed by room over them.
  CHECK(at("/_matrix/client/v3/rooms/!r:x/receipt/m.read/$e") == "axon_receipts");
  CHECK(instances_of(plan, "axon_receipts") == std::vector<std::string>{"w1", "w2"});
  CHECK(plan.find("axon_receipts")->how == balance::room);
  // account_data is written by main (the default), which has a client listener.
  CHECK(at("/_matrix/client/v3/user/@a:x/account_data/m.direct") == "axon_account_data");
  CHECK(instances_of(plan, "axon_account_data") == std::vector<std::string>{"main"});
  // Event sending: straight to the one events writer.
  CHECK(at("/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1") == "axon_events");
  CHECK(plan.find("axon_events")->how == balance::round_robin);
  CHECK(instances_of(plan, "axon_events") == std::vector<std::string>{"w2"});
  CHECK(plan.room_shards.empty());
  CHECK_FALSE(first_match(plan, "/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1")->room_shard);
  // /sync is sticky per user, with initial syncs apart.
  auto sync = first_match(plan, "/_matrix/client/v3/sync");
  REQUIRE(sync);
  CHECK(sync->sync);
  CHECK(plan.find("axon_sync")->how == balance::user);
  CHECK(plan.find("axon_initial_sync")->how == balance::user);
  // A literal template wins over a parameter at the same place.
  CHECK(at("/_matrix/client/v3/pushrules/global/override/.m.rule.master") == "axon_client");
  CHECK(at("/_matrix/client/v3/pushrules/global/content/r1") == "axon_push_rules");
  CHECK(at("/_matrix/client/v3/directory/list/room/!r:x") == "axon_client");
  // Media and federation go to the instances with those resources.
  CHECK(at("/_matrix/media/v3/download/x/y") == "axon_media");
  CHECK(at("/_matrix/client/v1/media/download/x/y") == "axon_media");
  CHECK(instances_of(plan, "axon_media") == std::vector<std::string>{"w2"});
  CHECK(at("/_matrix/federation/v1/send/123") == "axon_federation_send");
  CHECK(plan.find("axon_federation_send")->how == balance::source_ip);
  CHECK(at("/_matrix/federation/v1/version") == "axon_federation");
  CHECK(instances_of(plan, "axon_federation") == std::vector<std::string>{"main"});
  // Replication is refused, never routed.
  CHECK(at("/_axon/replication/persist_events") == "");
  CHECK(at("/_synapse/replication/x") == "");
  for (auto& r : plan.rules) CHECK(r.pattern.find("_axon/replication") == std::string::npos);
  // Unknown paths: the default pool.
  CHECK(at("/_matrix/client/v3/not_an_endpoint") == "<default>");
  CHECK(plan.default_pool == "axon_client");
}

TEST_CASE("a writer without a client listener leaves its endpoints to everyone") {
  layout l;
  // w1 keeps only replication: typing's writer cannot take client requests.
  l.workers[0] = load({{"homeserver.yaml", shared_yaml},
                       {"w1.yaml", worker_yaml("w1", 8101, 9101, "health")}});
  std::vector<std::string> errors;
  auto plan = plan_routes(l.shared, l.workers, table, 8008, errors);
  REQUIRE(errors.empty());
  CHECK_FALSE(plan.find("axon_typing"));
  auto r = first_match(plan, "/_matrix/client/v3/rooms/!r:x/typing/@a:x");
  REQUIRE(r);
  CHECK(r->pool == "axon_client");
  CHECK(instances_of(plan, "axon_receipts") == std::vector<std::string>{"w2"});
  CHECK(instances_of(plan, "axon_client") == std::vector<std::string>{"main", "w2"});
}

TEST_CASE("layout errors stop the generation") {
  layout l;
  SUBCASE("no client listener anywhere") {
    auto only_repl = load({{"homeserver.yaml", std::string(shared_yaml) +
                                                   "listeners:\n  - {port: 9093, type: http, "
                                                   "resources: [{names: [replication]}]}\n"}});
    auto res = generate_routes("nginx", only_repl, {}, table, 8008);
    REQUIRE(res.errors.size() == 1);
    CHECK(res.errors[0].find("client") != std::string::npos);
    CHECK(res.text.empty());
  }
  SUBCASE("the same worker twice") {
    l.workers.push_back(l.workers[0]);
    auto res = generate_routes("nginx", l.shared, l.workers, table, 8008);
    REQUIRE(res.errors.size() == 1);
    CHECK(res.errors[0].find("w1") != std::string::npos);
  }
  SUBCASE("conflicting and unknown owners") {
    auto bad = table;
    bad.push_back({"DELETE", "/_matrix/client/{v}", "/rooms/{roomId}/typing/{userId}", "client", "presence"});
    bad.push_back({"GET", "/_matrix/client/{v}", "/nowhere", "client", "no_such_role"});
    auto res = generate_routes("haproxy", l.shared, l.workers, bad, 8008);
    CHECK(res.errors.size() == 2);
  }
  SUBCASE("an unknown proxy kind") {
    auto res = generate_routes("apache", l.shared, l.workers, table, 8008);
    REQUIRE(res.errors.size() == 1);
    CHECK(res.errors[0].find("apache") != std::string::npos);
  }
}

TEST_CASE("nginx output") {
  layout l;
  auto res = generate_routes("nginx", l.shared, l.workers, table, 8448);
  REQUIRE(res.errors.empty());
  const auto& t = res.text;
  auto has = [&](const std::string& s) { return t.find(s) != std::string::npos; };
  CHECK(has("listen 8448;"));
  CHECK(has("server_name example.org;"));
  CHECK(has("client_max_body_size 10485760;"));
  CHECK(has("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"));
  CHECK(has("proxy_set_header X-Forwarded-Proto $scheme;"));
  CHECK(has("proxy_set_header Host $host;"));
  // The sticky /sync map and upstreams.
  CHECK(has("map $http_authorization $axon_user {"));
  CHECK(has("\"~^Bearer syt_(?<axon_lp_header>[^_]*)_\" $axon_lp_header;"));
  CHECK(has("map $arg_access_token $axon_user_from_query {"));
  CHECK(has("map $arg_since $axon_sync_upstream {"));
  CHECK(has("upstream axon_sync {\n    hash $axon_user consistent;"));
  CHECK(has("upstream axon_events {\n    server 127.0.0.1:8102;  # w2\n}"));
  CHECK_FALSE(has("js_import")); // one events writer: nothing to compute
  CHECK(has("proxy_pass http://$axon_sync_upstream;"));
  // A wildcard bind address is reached on loopback.
  CHECK(has("server 127.0.0.1:8101;  # w1"));
  CHECK(has("upstream axon_typing {\n    server 127.0.0.1:8101;  # w1\n}"));
  CHECK(has("location ^~ /_axon/ {"));
  CHECK_FALSE(has("9093")); // no replication listener anywhere
  CHECK_FALSE(has("9101"));
  // More specific regexes come first.
  auto literal = t.find("pushrules/global/override/");
  auto param = t.find("pushrules/global/[^/]+/[^/]+/?$");
  REQUIRE(literal != std::string::npos);
  REQUIRE(param != std::string::npos);
  CHECK(literal < param);
  CHECK(t.rfind("location / {") > t.rfind("location ~"));
}

TEST_CASE("haproxy output") {
  layout l;
  auto res = generate_routes("haproxy", l.shared, l.workers, table, 8448);
  REQUIRE(res.errors.empty());
  const auto& t = res.text;
  auto has = [&](const std::string& s) { return t.find(s) != std::string::npos; };
  CHECK(has("frontend axon\n"));
  CHECK(has("bind :8448\n"));
  CHECK(has("option forwardfor\n"));
  CHECK(has("http-request deny deny_status 404 if { path_beg /_axon/ }"));
  CHECK(has("http-request deny deny_status 413 if { req.hdr_val(content-length) gt 10485760 }"));
  CHECK(has("use_backend axon_sync if { path_reg ^/_matrix/client/(?:r0|v3|v1)/sync/?$ } "
            "{ url_param(since) -m found }"));
  CHECK(has("use_backend axon_initial_sync if { path_reg ^/_matrix/client/(?:r0|v3|v1)/sync/?$ }\n"));
  CHECK(has("use_backend axon_typing if { path_reg ^/_matrix/client/(?:r0|v3|v1)/rooms/[^/]+/typing/[^/]+/?$ }"));
  CHECK(has("use_backend axon_media if { path_beg /_matrix/media/ }"));
  CHECK(has("default_backend axon_client\n"));
  CHECK(has("backend axon_receipts\n    mode http\n    timeout connect 5s\n    timeout server 180s\n"
            "    balance hash var(txn.axon_room)\n    hash-type consistent\n"
            "    server w1 127.0.0.1:8101\n    server w2 127.0.0.1:8102\n"));
  CHECK(has("backend axon_federation_send\n"));
  CHECK(has("balance source"));
  // Every backend that a rule names exists.
  size_t pos = 0;
  while ((pos = t.find("use_backend ", pos)) != std::string::npos) {
    pos += 12;
    auto name = t.substr(pos, t.find(' ', pos) - pos);
    CHECK_MESSAGE(has("\nbackend " + name + "\n"), name);
  }
  CHECK_FALSE(has("9093"));
}

TEST_CASE("addresses: wildcard binds, IPv6 and unix sockets") {
  auto shared = load({{"homeserver.yaml", std::string(shared_yaml) +
                                              "listeners:\n"
                                              "  - {port: 8008, bind_addresses: ['::1'], type: http, "
                                              "resources: [{names: [client]}]}\n"}});
  std::vector<std::string> errors;
  auto plan = plan_routes(shared, {}, table, 8008, errors);
  REQUIRE(errors.empty());
  REQUIRE(plan.find("axon_client")->servers.size() == 1);
  CHECK(plan.find("axon_client")->servers[0].address == "[::1]:8008");
  CHECK(render_nginx(plan).find("server [::1]:8008;") != std::string::npos);
  CHECK(render_haproxy(plan).find("server main ipv6@::1:8008\n") != std::string::npos);
}

namespace {

/// The shard index the haproxy rendering computes for `room` (its set-var lines, evaluated).
size_t haproxy_shard(const std::string& text, const std::string& room) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(room.data()), room.size());
  static const std::regex term(R"(set-var\(txn\.axon_sum\) var\(txn\.axon_digest\),bytes\((\d+),1\),hex,hex2i,mul\((\d+)\),add\(txn\.axon_sum\))");
  static const std::regex modulo(R"(set-var\(txn\.axon_shard\) var\(txn\.axon_sum\),mod\((\d+)\))");
  long long sum = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), term), end; it != end; ++it)
    sum += digest[std::stoi((*it)[1])] * std::stoll((*it)[2]);
  std::smatch m;
  REQUIRE(std::regex_search(text, m, modulo));
  return static_cast<size_t>(sum % std::stoll(m[1]));
}

std::vector<std::string> writer_names(size_t n) {
  std::vector<std::string> out{"w1"}; // a real instance (a client listener); the rest are not
  for (size_t i = 1; i < n; ++i) out.push_back("x" + std::to_string(i));
  return out;
}

} // namespace

TEST_CASE("sharded events writers: each room's writes go to its writer") {
  layout l;
  // events: w1, main, w2 -- not the instances' order; shard i is writer i.
  *l.shared.stream_writers.find("events") = {"w1", "main", "w2"};
  std::vector<std::string> errors;
  auto plan = plan_routes(l.shared, l.workers, table, 8008, errors);
  REQUIRE(errors.empty());
  REQUIRE(plan.room_shards == std::vector<std::string>{"axon_events_0", "axon_events_1", "axon_events_2"});
  CHECK(instances_of(plan, "axon_events_0") == std::vector<std::string>{"w1"});
  CHECK(instances_of(plan, "axon_events_1") == std::vector<std::string>{"main"});
  CHECK(instances_of(plan, "axon_events_2") == std::vector<std::string>{"w2"});
  // The fallback: a room hash over the writers.
  CHECK(plan.find("axon_events")->how == balance::room);
  CHECK(instances_of(plan, "axon_events") == std::vector<std::string>{"main", "w1", "w2"});
  auto send = first_match(plan, "/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1");
  REQUIRE(send);
  CHECK(send->room_shard);
  CHECK(send->pool == "axon_events");
  CHECK_FALSE(first_match(plan, "/_matrix/client/v3/rooms/!r:x/typing/@a:x")->room_shard);

  SUBCASE("a writer without a client listener: its shard goes to every client instance") {
    l.workers[0] = load({{"homeserver.yaml", shared_yaml},
                         {"w1.yaml", worker_yaml("w1", 8101, 9101, "health")}});
    errors.clear();
    auto p2 = plan_routes(l.shared, l.workers, table, 8008, errors);
    REQUIRE(errors.empty());
    REQUIRE(p2.room_shards.size() == 3);
    CHECK(instances_of(p2, "axon_events_0") == std::vector<std::string>{"main", "w2"});
    CHECK(instances_of(p2, "axon_events_2") == std::vector<std::string>{"w2"});
  }
  SUBCASE("no events writer reachable: hashed by room over every client instance") {
    *l.shared.stream_writers.find("events") = {"x1", "x2"};
    errors.clear();
    auto p2 = plan_routes(l.shared, l.workers, table, 8008, errors);
    CHECK(p2.room_shards.empty());
    CHECK(instances_of(p2, "axon_events").size() == 3);
    CHECK(p2.find("axon_events")->how == balance::room);
  }
  SUBCASE("nginx with njs") {
    auto res = generate_routes("nginx", l.shared, l.workers, table, 8008, "/etc/nginx/axon_routes.js");
    REQUIRE(res.errors.empty());
    auto has = [&](const std::string& s) { return res.text.find(s) != std::string::npos; };
    CHECK(has("js_import axon_routes from /etc/nginx/axon_routes.js;\n"));
    CHECK(has("js_set $axon_room_shard axon_routes.room_shard;\n"));
    CHECK(has("map $axon_room_shard $axon_events_upstream {\n    default axon_events;"));
    CHECK(has("    0 axon_events_0;  # w1\n    1 axon_events_1;  # main\n    2 axon_events_2;  # w2\n}"));
    CHECK(has("upstream axon_events_1 {\n    server 127.0.0.1:8008;  # main\n}"));
    CHECK(has("proxy_pass http://$axon_events_upstream;"));
    CHECK(res.njs.find("var WRITERS = 3;") != std::string::npos);
    CHECK(res.njs.find("export default") != std::string::npos);
  }
  SUBCASE("nginx without njs: the fallback, said so") {
    auto res = generate_routes("nginx", l.shared, l.workers, table, 8008);
    REQUIRE(res.errors.empty());
    CHECK(res.njs.empty());
    CHECK(res.text.find("js_import") == std::string::npos);
    CHECK(res.text.find("FALLBACK without njs") != std::string::npos);
    CHECK(res.text.find("$axon_events_upstream") == std::string::npos);
    CHECK(res.text.find("upstream axon_events {\n    hash $axon_room consistent;") != std::string::npos);
  }
  SUBCASE("haproxy") {
    auto res = generate_routes("haproxy", l.shared, l.workers, table, 8008);
    REQUIRE(res.errors.empty());
    auto has = [&](const std::string& s) { return res.text.find(s) != std::string::npos; };
    CHECK(has("http-request set-var(txn.axon_digest) var(txn.axon_room),url_dec,sha2(256) if axon_room_path\n"));
    CHECK(has("use_backend axon_events_%[var(txn.axon_shard)] if { path_reg ^/_matrix/client/(?:r0|v3|v1)"
              "/rooms/[^/]+/send/[^/]+/[^/]+/?$ } { var(txn.axon_shard) -m found }\n"));
    for (auto name : {"axon_events_0", "axon_events_1", "axon_events_2", "axon_events"})
      CHECK_MESSAGE(has(std::string("\nbackend ") + name + "\n"), name);
  }
}

TEST_CASE("the proxies' shard arithmetic is the server's stream_writer_for") {
  for (size_t n : {2, 3, 4, 5, 6, 7, 10, 12}) {
    CAPTURE(n);
    layout l;
    auto writers = writer_names(n);
    *l.shared.stream_writers.find("events") = writers;
    auto res = generate_routes("haproxy", l.shared, l.workers, table, 8008);
    REQUIRE(res.errors.empty());
    for (int i = 0; i < 300; ++i) {
      std::string room = "!" + std::to_string(i * 7919 + n) + "abcXYZ:example.org";
      auto owner = stream_writer_for(writers, room);
      auto want = static_cast<size_t>(std::find(writers.begin(), writers.end(), owner) - writers.begin());
      CAPTURE(room);
      CHECK(haproxy_shard(res.text, room) == want);
    }
  }
}
