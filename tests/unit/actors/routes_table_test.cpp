// The real endpoint table (actors/client/routes.hpp) through the route
// generator: every endpoint is routed by its own rule to the role that owns it.
#include "actors/client/routes.hpp"
#include "config/homeserver_config.hpp"
#include "config/routes_gen.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <set>

using namespace axon;

namespace {

const char* const shared_yaml = R"yaml(
server_name: example.org
database:
  name: psycopg2
  args: {user: axon, dbname: axon}
listeners:
  - {port: 8008, bind_addresses: ['127.0.0.1'], type: http, resources: [{names: [client, federation]}]}
  - {port: 9093, bind_addresses: ['127.0.0.1'], type: http, resources: [{names: [replication]}]}
redis: {enabled: true}
instance_map:
  main: {host: 127.0.0.1, port: 9093}
  writer: {host: 127.0.0.1, port: 9101}
stream_writers:
  typing: writer
  to_device: writer
  account_data: writer
  receipts: writer
  presence: writer
  push_rules: writer
  device_lists: writer
)yaml";

const char* const writer_yaml = R"yaml(
worker_app: generic_worker
worker_name: writer
worker_listeners:
  - {port: 9101, bind_addresses: ['127.0.0.1'], type: http, resources: [{names: [replication]}]}
  - {port: 8101, bind_addresses: ['127.0.0.1'], type: http, resources: [{names: [client]}]}
)yaml";

config::homeserver_config load(std::vector<std::pair<std::string, std::string>> docs) {
  auto r = config::load_config_from_strings(docs);
  std::string errs;
  for (auto& e : r.errors) errs += e.to_string() + "\n";
  REQUIRE_MESSAGE(r.config, errs);
  return *r.config;
}

/// A concrete path for a template: each {param} becomes a plausible value.
std::string sample(const std::string& prefix, const std::string& path) {
  static const std::regex param("\\{([^}]+)\\}");
  std::string out;
  std::string in = prefix + path;
  std::smatch m;
  while (std::regex_search(in, m, param)) {
    out += m.prefix();
    auto name = m[1].str();
    out += name == "v" ? "v3" : name == "roomId" ? "!room:example.org" : name == "userId" ? "@u:example.org" : "x" + name;
    in = m.suffix();
  }
  return out + in;
}

} // namespace

TEST_CASE("every endpoint of the table is routed by its own rule to its owner") {
  std::vector<config::endpoint> table;
  for (auto& r : client::all_routes())
    table.push_back({r.method, r.prefix, r.path, r.resource, r.owner ? r.owner : ""});
  REQUIRE(table.size() > 50);

  auto shared = load({{"homeserver.yaml", shared_yaml}});
  auto writer = load({{"homeserver.yaml", shared_yaml}, {"writer.yaml", writer_yaml}});
  std::vector<std::string> errors;
  auto plan = config::plan_routes(shared, {writer}, table, 8008, errors);
  for (auto& e : errors) FAIL_CHECK(e);

  const std::set<std::string> owners{"",       "events",       "sync",       "initial_sync",
                                     "typing", "to_device",    "account_data", "receipts",
                                     "presence", "push_rules", "device_lists"};
  std::set<std::string> owners_seen;
  for (auto& e : table) {
    CAPTURE(e.method);
    CAPTURE(e.path);
    CHECK(owners.count(e.owner));
    owners_seen.insert(e.owner);
    auto path = sample(e.prefix, e.path);
    const config::location_rule* hit = nullptr;
    for (auto& r : plan.rules) {
      bool m = r.kind == config::location_rule::prefix ? path.rfind(r.pattern, 0) == 0
                                                       : std::regex_search(path, std::regex(r.pattern));
      if (m) {
        hit = &r;
        break;
      }
    }
    if (e.resource == "replication") {
      // Never routed: refused before any pool.
      REQUIRE(hit);
      CHECK(hit->pool.empty());
      continue;
    }
    REQUIRE_MESSAGE(hit, path);
    if (e.resource == "media" || path.rfind("/_matrix/federation/v1/media/", 0) == 0) {
      // To the instance holding the media repository (main here): the media
      // prefixes, and the media admin API by its own rules.
      CHECK(hit->kind == (path.rfind("/_synapse/", 0) == 0 ? config::location_rule::regex
                                                             : config::location_rule::prefix));
      CHECK(hit->pool == "axon_media");
      continue;
    }
    if (e.resource == "federation" || e.resource == "keys" || e.resource == "openid") {
      // Whole prefixes to the federation listeners (keys included).
      CHECK(hit->kind == config::location_rule::prefix);
      // Transactions go by the sender's address (one origin, one instance).
      if (path.rfind("/_matrix/federation/v1/send/", 0) == 0) CHECK(hit->pool == "axon_federation_send");
      else CHECK(hit->pool == "axon_federation");
      continue;
    }
    // The first matching rule is the template's own, not a neighbour's.
    CHECK(hit->pattern == config::template_regex(e.prefix, e.path));
    if (e.owner.empty()) CHECK(hit->pool == "axon_client");
    else if (e.owner == "events") CHECK(hit->pool == "axon_events");
    else if (e.owner == "sync") CHECK(hit->sync);
    else if (e.owner == "initial_sync") CHECK(hit->pool == "axon_initial_sync");
    else {
      CHECK(hit->pool == "axon_" + e.owner);
      auto p = plan.find(hit->pool);
      REQUIRE(p);
      REQUIRE(p->servers.size() == 1);
      CHECK(p->servers[0].instance == "writer");
    }
  }
  // Synapse's stream-writer endpoints are all tagged.
  for (const char* o : {"events", "sync", "initial_sync", "typing", "to_device", "account_data", "receipts",
                        "presence", "push_rules", "device_lists"})
    CHECK_MESSAGE(owners_seen.count(o), o);
}
